//! Whether a recipient may be sent to, and how: the hook the service fills in with the
//! route table's knowledge (voice fallbacks, required registrations, validity per route).
//!
//! The API itself holds no routing logic: it parses the number and asks here. The default
//! refuses every number that cannot take an SMS (landlines, premium rate, toll free, ...),
//! since without a route table there is no voice fallback to offer.

use std::time::Duration;

use crate::number::{NoSmsReason, PhoneNumber, SmsReachability};
use crate::routes::MessageClass;
use crate::store::{Channel, Dlt};

/// What the admission decision sees.
#[derive(Debug, Clone, Copy)]
pub struct AdmissionRequest<'a> {
    pub client: &'a str,
    pub number: &'a PhoneNumber,
    pub class: MessageClass,
    pub dlt: Option<&'a Dlt>,
}

/// A recipient admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admitted {
    pub channel: Channel,
    /// The validity to use when the request gives none (e.g. the route's for this class);
    /// `None`: the API's configured default.
    pub default_validity: Option<Duration>,
}

/// A recipient refused: reported as a field error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The request field at fault, relative to the message (`to`, `dlt`).
    pub field: &'static str,
    /// Machine-readable reason (`fixed_line`, `premium_rate`, `dlt_required`, ...).
    pub reason: &'static str,
    pub message: String,
}

pub trait Admission: Send + Sync + 'static {
    fn admit(&self, request: &AdmissionRequest<'_>) -> Result<Admitted, Refusal>;
}

/// SMS to numbers that can take SMS; every other number refused with its reason.
#[derive(Debug, Clone, Copy, Default)]
pub struct SmsOnly;

impl Admission for SmsOnly {
    fn admit(&self, request: &AdmissionRequest<'_>) -> Result<Admitted, Refusal> {
        match request.number.can_receive_sms() {
            SmsReachability::Yes | SmsReachability::Maybe => Ok(Admitted {
                channel: Channel::Sms,
                default_validity: None,
            }),
            SmsReachability::No { reason } => Err(refusal(reason)),
        }
    }
}

/// The refusal for a number that cannot take SMS, for admission hooks to reuse.
#[must_use]
pub fn refusal(reason: NoSmsReason) -> Refusal {
    let message = match reason {
        NoSmsReason::FixedLine => {
            "is a landline (fixed line) and cannot receive SMS; no voice fallback is \
             configured for it"
        }
        NoSmsReason::PremiumRate => {
            "is a premium-rate number; refused because such numbers are the target of SMS \
             pumping fraud"
        }
        NoSmsReason::TollFree => "is a toll-free service number and cannot receive SMS",
        NoSmsReason::SharedCost => "is a shared-cost service number and cannot receive SMS",
        NoSmsReason::Uan => "is a universal access (company switchboard) number",
        NoSmsReason::Voicemail => "is a voicemail access number",
        NoSmsReason::Pager => "is a pager number; pagers are not reachable through SMS",
    };
    Refusal {
        field: "to",
        reason: reason.as_str(),
        message: format!("the number {message}"),
    }
}
