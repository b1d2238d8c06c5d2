//! TLS personas: the certificate a persona presents, from PEM files named in sim.yaml or from
//! memory (tests make theirs with a few lines of rcgen), turned once into a rustls server
//! config on the ring provider.
//!
//! Only the server side lives here. The handshake runs in the connection task before the
//! first PDU (see `conn::serve_tls`); after it the connection loop is the same code as over
//! plain TCP.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, ServerConfig};

/// A persona's TLS certificate chain (leaf first) and private key, checked to belong together.
/// Cheap to clone.
#[derive(Clone)]
pub struct TlsIdentity {
    config: Arc<ServerConfig>,
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.write_str("TlsIdentity { .. }")
    }
}

/// Why a certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: not valid PEM: {source}")]
    Pem { what: String, source: pem::Error },
    #[error("{0}: no certificate in it (PEM `BEGIN CERTIFICATE`)")]
    NoCertificate(String),
    #[error(
        "{0}: no private key in it (PEM `BEGIN PRIVATE KEY`, `BEGIN RSA PRIVATE KEY` or `BEGIN EC PRIVATE KEY`)"
    )]
    NoKey(String),
    /// rustls refused the pair: a key it cannot use, or a key that is not the certificate's.
    #[error("certificate and key cannot serve TLS: {0}")]
    Unusable(rustls::Error),
}

impl TlsIdentity {
    /// From PEM text: the certificate chain (leaf first, intermediates after it) and the
    /// private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(chain: impl AsRef<[u8]>, key: impl AsRef<[u8]>) -> Result<Self, TlsError> {
        let chain = parse_chain("certificate PEM", chain.as_ref())?;
        let key = parse_key("key PEM", key.as_ref())?;
        TlsIdentity::from_der(chain, key)
    }

    /// From DER: the certificate chain (leaf first) and the private key.
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        if chain.is_empty() {
            return Err(TlsError::NoCertificate("certificate chain".into()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Unusable)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(TlsError::Unusable)?;
        Ok(TlsIdentity {
            config: Arc::new(config),
        })
    }

    /// From two PEM files: the certificate chain and the private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        TlsIdentity::from_der(load_chain(cert)?, load_key(key)?)
    }

    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(&self.config))
    }
}

/// The certificates of a PEM file, in file order.
pub(crate) fn load_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    parse_chain(&path.display().to_string(), &read(path)?)
}

/// The first private key of a PEM file.
pub(crate) fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    parse_key(&path.display().to_string(), &read(path)?)
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn parse_chain(what: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            what: what.to_string(),
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(what.to_string()));
    }
    Ok(chain)
}

fn parse_key(what: &str, pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|source| match source {
        pem::Error::NoItemsFound => TlsError::NoKey(what.to_string()),
        source => TlsError::Pem {
            what: what.to_string(),
            source,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_errors_say_what_is_missing() {
        let e = TlsIdentity::from_pem("", "").unwrap_err();
        assert!(matches!(e, TlsError::NoCertificate(_)), "{e}");
        let e = TlsIdentity::from_pem(
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            "",
        )
        .unwrap_err();
        assert!(matches!(e, TlsError::Pem { .. }), "{e}");
        let e = load_chain(Path::new("/nonexistent/gannet.pem")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/gannet.pem"), "{e}");
    }

    #[test]
    fn a_certificate_without_its_key_is_refused() {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let other = rcgen::KeyPair::generate().unwrap();
        let e = TlsIdentity::from_pem(cert.cert.pem(), other.serialize_pem()).unwrap_err();
        assert!(matches!(e, TlsError::Unusable(_)), "{e}");
        let e = TlsIdentity::from_pem(cert.cert.pem(), "").unwrap_err();
        assert!(matches!(e, TlsError::NoKey(_)), "{e}");
        TlsIdentity::from_pem(cert.cert.pem(), cert.signing_key.serialize_pem()).unwrap();
    }
}
