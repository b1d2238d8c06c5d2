//! Command ids (SMPP 3.4 §5.1.2.1, SMPP 5.0 §4.7.5).
//!
//! A newtype over the wire value, so an id this crate does not know is kept as it came,
//! not dropped: [`CommandId::name`] answers `None` for it.

use std::fmt;

/// The `command_id` header field. Bit 31 set means a response.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandId(pub u32);

macro_rules! command_ids {
    ($($(#[$doc:meta])* $name:ident = $value:literal, $text:literal;)*) => {
        impl CommandId {
            $($(#[$doc])* pub const $name: CommandId = CommandId($value);)*

            /// Every command id this crate knows, requests and responses.
            pub const ALL: &'static [CommandId] = &[$(CommandId::$name),*];

            /// The spec's snake_case name (`submit_sm_resp`), or `None` for an unknown id.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($text),)*
                    _ => None,
                }
            }
        }
    };
}

command_ids! {
    GENERIC_NACK = 0x8000_0000, "generic_nack";
    BIND_RECEIVER = 0x0000_0001, "bind_receiver";
    BIND_RECEIVER_RESP = 0x8000_0001, "bind_receiver_resp";
    BIND_TRANSMITTER = 0x0000_0002, "bind_transmitter";
    BIND_TRANSMITTER_RESP = 0x8000_0002, "bind_transmitter_resp";
    QUERY_SM = 0x0000_0003, "query_sm";
    QUERY_SM_RESP = 0x8000_0003, "query_sm_resp";
    SUBMIT_SM = 0x0000_0004, "submit_sm";
    SUBMIT_SM_RESP = 0x8000_0004, "submit_sm_resp";
    DELIVER_SM = 0x0000_0005, "deliver_sm";
    DELIVER_SM_RESP = 0x8000_0005, "deliver_sm_resp";
    UNBIND = 0x0000_0006, "unbind";
    UNBIND_RESP = 0x8000_0006, "unbind_resp";
    REPLACE_SM = 0x0000_0007, "replace_sm";
    REPLACE_SM_RESP = 0x8000_0007, "replace_sm_resp";
    CANCEL_SM = 0x0000_0008, "cancel_sm";
    CANCEL_SM_RESP = 0x8000_0008, "cancel_sm_resp";
    BIND_TRANSCEIVER = 0x0000_0009, "bind_transceiver";
    BIND_TRANSCEIVER_RESP = 0x8000_0009, "bind_transceiver_resp";
    OUTBIND = 0x0000_000B, "outbind";
    ENQUIRE_LINK = 0x0000_0015, "enquire_link";
    ENQUIRE_LINK_RESP = 0x8000_0015, "enquire_link_resp";
    SUBMIT_MULTI = 0x0000_0021, "submit_multi";
    SUBMIT_MULTI_RESP = 0x8000_0021, "submit_multi_resp";
    ALERT_NOTIFICATION = 0x0000_0102, "alert_notification";
    DATA_SM = 0x0000_0103, "data_sm";
    DATA_SM_RESP = 0x8000_0103, "data_sm_resp";
    /// SMPP 5.0 §4.4.1.
    BROADCAST_SM = 0x0000_0111, "broadcast_sm";
    BROADCAST_SM_RESP = 0x8000_0111, "broadcast_sm_resp";
    /// SMPP 5.0 §4.4.2.
    QUERY_BROADCAST_SM = 0x0000_0112, "query_broadcast_sm";
    QUERY_BROADCAST_SM_RESP = 0x8000_0112, "query_broadcast_sm_resp";
    /// SMPP 5.0 §4.4.3.
    CANCEL_BROADCAST_SM = 0x0000_0113, "cancel_broadcast_sm";
    CANCEL_BROADCAST_SM_RESP = 0x8000_0113, "cancel_broadcast_sm_resp";
}

impl CommandId {
    const RESPONSE_BIT: u32 = 0x8000_0000;

    /// True for responses (bit 31 set), including generic_nack.
    pub const fn is_response(self) -> bool {
        self.0 & Self::RESPONSE_BIT != 0
    }

    /// The response id for a request id (`submit_sm` → `submit_sm_resp`). For ids that take no
    /// response (outbind, alert_notification) and for responses, `None`.
    pub const fn response(self) -> Option<CommandId> {
        match self {
            CommandId::OUTBIND | CommandId::ALERT_NOTIFICATION => None,
            _ if self.is_response() => None,
            _ => Some(CommandId(self.0 | Self::RESPONSE_BIT)),
        }
    }

    /// The request id a response answers, or `None` for generic_nack and requests.
    pub const fn request(self) -> Option<CommandId> {
        if self.is_response() && self.0 != Self::GENERIC_NACK.0 {
            Some(CommandId(self.0 & !Self::RESPONSE_BIT))
        } else {
            None
        }
    }

    /// True when this crate knows the id.
    pub const fn is_known(self) -> bool {
        self.name().is_some()
    }
}

impl fmt::Debug for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}(0x{:08X})", self.0),
            None => write!(f, "unknown(0x{:08X})", self.0),
        }
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "0x{:08X}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_responses_pair_up() {
        assert_eq!(
            CommandId::SUBMIT_SM.response(),
            Some(CommandId::SUBMIT_SM_RESP)
        );
        assert_eq!(
            CommandId::SUBMIT_SM_RESP.request(),
            Some(CommandId::SUBMIT_SM)
        );
        assert_eq!(CommandId::OUTBIND.response(), None);
        assert_eq!(CommandId::GENERIC_NACK.request(), None);
        for id in CommandId::ALL {
            if let Some(resp) = id.response() {
                assert!(resp.is_known(), "{id} has no known response");
            }
        }
    }

    #[test]
    fn unknown_ids_are_kept() {
        let id = CommandId(0x0000_0999);
        assert!(!id.is_known());
        assert_eq!(format!("{id:?}"), "unknown(0x00000999)");
    }
}
