//! The API's admission hook, answered from the live route table: a landline goes to voice
//! where its route has a voice fallback for the class, a country's required registrations
//! are checked at the door, and the route's validity for the class is the default.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use crate::api::{Admission, AdmissionRequest, Admitted, Refusal};
use crate::number::{NumberType, SmsReachability};
use crate::router::{self, HealthSnapshot, RouteRequest};
use crate::routes::{self, Registration, Registrations, RouteTable};
use crate::store::{Channel, Dlt};

/// The route table in use, swapped whole on reload. Readers clone the `Arc` (one atomic
/// increment under an uncontended read lock) and keep their copy for the decision.
#[derive(Clone, Debug)]
pub struct SharedTable(Arc<RwLock<Arc<RouteTable>>>);

impl SharedTable {
    pub fn new(table: Arc<RouteTable>) -> SharedTable {
        SharedTable(Arc::new(RwLock::new(table)))
    }

    pub fn get(&self) -> Arc<RouteTable> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn set(&self, table: Arc<RouteTable>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = table;
    }
}

/// The registrations a message carries.
pub fn registrations(dlt: Option<&Dlt>) -> Registrations {
    match dlt {
        Some(d) if !d.entity_id.is_empty() && !d.template_id.is_empty() => {
            Registrations::of(&[Registration::DltEntityId, Registration::DltTemplateId])
        }
        Some(d) if !d.entity_id.is_empty() => Registrations::of(&[Registration::DltEntityId]),
        Some(d) if !d.template_id.is_empty() => Registrations::of(&[Registration::DltTemplateId]),
        _ => Registrations::NONE,
    }
}

/// [`Admission`] from the route table.
#[derive(Clone, Debug)]
pub struct RouteAdmission {
    table: SharedTable,
}

impl RouteAdmission {
    pub fn new(table: SharedTable) -> RouteAdmission {
        RouteAdmission { table }
    }
}

impl Admission for RouteAdmission {
    fn admit(&self, request: &AdmissionRequest<'_>) -> Result<Admitted, Refusal> {
        let table = self.table.get();
        let number = request.number;
        let mut msg = RouteRequest::new(number.e164_digits(), request.class);
        msg.number_type = number.number_type();
        msg.registrations = registrations(request.dlt);
        // Health plays no part here: whether a carrier is up now does not decide whether
        // the message is accepted (it waits for one).
        let d = router::resolve(&msg, &table, &HealthSnapshot::default(), SystemTime::now());
        let validity = d.validity;
        let sms = |validity: Option<Duration>| {
            Ok(Admitted {
                channel: Channel::Sms,
                default_validity: validity,
            })
        };
        let voice = Ok(Admitted {
            channel: Channel::Voice,
            default_validity: validity,
        });
        match d.refusal {
            None => sms(validity),
            Some(router::Refusal::Landline) if d.fallback == Some(routes::Channel::Voice) => voice,
            Some(router::Refusal::NotSmsCapable { .. } | router::Refusal::Landline) => {
                match number.can_receive_sms() {
                    SmsReachability::No { reason } => Err(crate::api::admission::refusal(reason)),
                    _ => Err(Refusal {
                        field: "to",
                        reason: "fixed_line",
                        message: "the number is a landline and its route has no voice \
                                  fallback for this class"
                            .into(),
                    }),
                }
            }
            Some(router::Refusal::PremiumRate) => Err(crate::api::admission::refusal(
                crate::number::NoSmsReason::PremiumRate,
            )),
            Some(router::Refusal::NoRoute) => Err(Refusal {
                field: "to",
                reason: "no_route",
                message: "no route in the routing table covers this number".into(),
            }),
            Some(router::Refusal::InvalidNumber) => Err(Refusal {
                field: "to",
                reason: "invalid_number",
                message: "the number is not 1 to 15 digits".into(),
            }),
            Some(router::Refusal::MissingRegistration { missing }) => Err(Refusal {
                field: "dlt",
                reason: "dlt_required",
                message: format!(
                    "the destination country requires registrations this message lacks: {}",
                    missing
                        .iter()
                        .map(Registration::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
            // Quiet hours, a down carrier, attempts: the message waits or is decided later.
            Some(_) => {
                if number.number_type() == NumberType::FixedLine
                    && d.fallback == Some(routes::Channel::Voice)
                {
                    voice
                } else {
                    sms(validity)
                }
            }
        }
    }
}
