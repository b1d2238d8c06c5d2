//! SMPP over TLS to a carrier: whom we trust and what name we check, made once per carrier
//! into a rustls client config on the ring provider.
//!
//! Verification is always on: the carrier's certificate must chain to a trusted root and
//! name the server (a DNS name, or an IP address in its subjectAltName). There is no switch
//! to turn that off; a carrier with a private CA is trusted by naming that CA
//! (`tls_ca_file`), which then *replaces* the public roots for that carrier.

use std::fmt;
use std::sync::Arc;

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, ServerName};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// TLS towards one carrier. Cheap to clone.
#[derive(Clone)]
pub struct TlsSettings {
    connector: TlsConnector,
    server_name: ServerName<'static>,
    roots: Roots,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Roots {
    /// The Mozilla roots of webpki-roots.
    Public,
    /// The carrier's own CA certificates, this many.
    Own(usize),
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("server_name", &self.server_name)
            .field("roots", &self.roots)
            .finish_non_exhaustive()
    }
}

/// Why TLS settings cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    #[error("`{0}` is neither a DNS name nor an IP address")]
    ServerName(String),
    #[error("not valid PEM: {0}")]
    Pem(pem::Error),
    #[error("no certificate in it (PEM `BEGIN CERTIFICATE`)")]
    NoCertificate,
    /// Certificate number `index` (from 1, in file order) is not a usable trust anchor.
    #[error("certificate {index} cannot be a trusted root: {error}")]
    BadCertificate { index: usize, error: rustls::Error },
    #[error("{0}")]
    Rustls(rustls::Error),
}

impl TlsSettings {
    /// Trust the public web PKI roots (webpki-roots); check the certificate against
    /// `server_name`.
    pub fn public_roots(server_name: &str) -> Result<TlsSettings, TlsSetupError> {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        TlsSettings::build(server_name, roots, Roots::Public)
    }

    /// Trust only the CA certificates of this PEM bundle.
    pub fn with_ca_pem(server_name: &str, pem: &[u8]) -> Result<TlsSettings, TlsSetupError> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(TlsSetupError::Pem)?;
        TlsSettings::with_ca_der(server_name, certs)
    }

    /// Trust only these CA certificates.
    pub fn with_ca_der(
        server_name: &str,
        certs: Vec<CertificateDer<'static>>,
    ) -> Result<TlsSettings, TlsSetupError> {
        if certs.is_empty() {
            return Err(TlsSetupError::NoCertificate);
        }
        let mut roots = RootCertStore::empty();
        let n = certs.len();
        for (i, cert) in certs.into_iter().enumerate() {
            roots
                .add(cert)
                .map_err(|error| TlsSetupError::BadCertificate {
                    index: i + 1,
                    error,
                })?;
        }
        TlsSettings::build(server_name, roots, Roots::Own(n))
    }

    fn build(name: &str, roots: RootCertStore, kind: Roots) -> Result<TlsSettings, TlsSetupError> {
        let server_name = ServerName::try_from(name.to_string())
            .map_err(|_| TlsSetupError::ServerName(name.to_string()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsSetupError::Rustls)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsSettings {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
            roots: kind,
        })
    }

    /// The name sent in SNI (for a DNS name) and checked against the certificate.
    pub fn server_name(&self) -> &ServerName<'static> {
        &self.server_name
    }

    /// Whether the public roots are trusted (no CA file of the carrier's own).
    pub fn public(&self) -> bool {
        self.roots == Roots::Public
    }

    pub(crate) fn connector(&self) -> &TlsConnector {
        &self.connector
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_bundles_are_checked() {
        let s = TlsSettings::public_roots("smsc.example.net").unwrap();
        assert!(s.public());
        assert!(matches!(
            s.server_name(),
            ServerName::DnsName(n) if n.as_ref() == "smsc.example.net"
        ));
        let s = TlsSettings::public_roots("10.0.0.7").unwrap();
        assert!(matches!(s.server_name(), ServerName::IpAddress(_)));
        assert!(matches!(
            TlsSettings::public_roots("not a name"),
            Err(TlsSetupError::ServerName(_))
        ));
        assert!(matches!(
            TlsSettings::with_ca_pem("h", b""),
            Err(TlsSetupError::NoCertificate)
        ));
        assert!(matches!(
            TlsSettings::with_ca_pem("h", b"-----BEGIN CERTIFICATE-----\n!!\n"),
            Err(TlsSetupError::Pem(_))
        ));
        let junk = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
        assert!(matches!(
            TlsSettings::with_ca_der("h", vec![junk]),
            Err(TlsSetupError::BadCertificate { index: 1, .. })
        ));
        let ca = rcgen::generate_simple_self_signed(vec!["ca".into()]).unwrap();
        let s = TlsSettings::with_ca_pem("h", ca.cert.pem().as_bytes()).unwrap();
        assert!(!s.public());
        assert!(format!("{s:?}").contains("Own(1)"));
    }
}
