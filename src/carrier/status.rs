//! What a carrier's command_status means for the message: status handling as data.
//!
//! Carriers misuse codes (ESME_RSUBMITFAIL for a throttle, vendor codes in 0x400..=0x4FF for
//! anything), so the meaning of a code is a table, not string matching: a default table from
//! SMPP 3.4 §5.1.3 and operator experience, overridden per carrier by `status_overrides`.

use std::collections::HashMap;
use std::fmt;

use gannet_smpp::CommandStatus;
use serde::Deserialize;

/// What a response status means for the request it answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusClass {
    /// Accepted (ESME_ROK).
    Ok,
    /// The carrier says we send too fast (ESME_RTHROTTLED): slow the carrier down and send the
    /// same message again.
    Throttled,
    /// The carrier's queue is full (ESME_RMSGQFUL): pause, slow down, send the same message
    /// again.
    QueueFull,
    /// A transient fault at the carrier: retry with backoff, up to the retry policy's limit.
    Temporary,
    /// The carrier will never take this message: the attempt ends and routing may try the
    /// next route.
    Permanent,
    /// The session itself is wrong (bad credentials on bind, ESME_RINVBNDSTS on a submit):
    /// rebind (with a long backoff for a refused bind). A submit refused this way was not
    /// accepted and is sent again.
    BindFatal,
}

impl StatusClass {
    /// Every class, for metric label enumeration and tests.
    pub const ALL: [StatusClass; 6] = [
        StatusClass::Ok,
        StatusClass::Throttled,
        StatusClass::QueueFull,
        StatusClass::Temporary,
        StatusClass::Permanent,
        StatusClass::BindFatal,
    ];

    /// The snake_case name used in config and as a metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            StatusClass::Ok => "ok",
            StatusClass::Throttled => "throttled",
            StatusClass::QueueFull => "queue_full",
            StatusClass::Temporary => "temporary",
            StatusClass::Permanent => "permanent",
            StatusClass::BindFatal => "bind_fatal",
        }
    }

    /// The default meaning of a status (SMPP 3.4 §5.1.3, SMPP 5.0 §4.7.6).
    ///
    /// Codes this table does not name, vendor codes (0x400..=0x4FF) included, are
    /// [`StatusClass::Permanent`]: an unknown answer should move the message to the next route
    /// quickly rather than hammer a carrier that may never take it. Override per carrier when
    /// a code is known to be transient.
    pub const fn default_for(status: CommandStatus) -> StatusClass {
        match status {
            CommandStatus::ESME_ROK => StatusClass::Ok,
            CommandStatus::ESME_RTHROTTLED => StatusClass::Throttled,
            CommandStatus::ESME_RMSGQFUL => StatusClass::QueueFull,
            CommandStatus::ESME_RSYSERR
            | CommandStatus::ESME_RSUBMITFAIL
            | CommandStatus::ESME_RX_T_APPN
            | CommandStatus::ESME_RUNKNOWNERR
            | CommandStatus::ESME_RDELIVERYFAILURE
            | CommandStatus::ESME_RSERTYPUNAVAIL => StatusClass::Temporary,
            // The session is not in a state that takes submits (SMPP 3.4 §2.3), or a bind was
            // refused: nothing wrong with the message, everything wrong with the bind.
            CommandStatus::ESME_RINVBNDSTS
            | CommandStatus::ESME_RALYBND
            | CommandStatus::ESME_RBINDFAIL
            | CommandStatus::ESME_RINVPASWD
            | CommandStatus::ESME_RINVSYSID
            | CommandStatus::ESME_RINVSYSTYP
            | CommandStatus::ESME_RINVCMDID => StatusClass::BindFatal,
            _ => StatusClass::Permanent,
        }
    }

    /// True when the same message may be sent again on this carrier.
    pub const fn is_retryable(self) -> bool {
        matches!(
            self,
            StatusClass::Throttled
                | StatusClass::QueueFull
                | StatusClass::Temporary
                | StatusClass::BindFatal
        )
    }
}

impl fmt::Display for StatusClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The classification of one carrier: the default table plus its overrides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusTable {
    overrides: HashMap<u32, StatusClass>,
}

impl StatusTable {
    /// The default table with these overrides.
    pub fn new(overrides: impl IntoIterator<Item = (CommandStatus, StatusClass)>) -> StatusTable {
        StatusTable {
            overrides: overrides.into_iter().map(|(s, c)| (s.0, c)).collect(),
        }
    }

    /// What `status` means at this carrier.
    #[inline]
    pub fn classify(&self, status: CommandStatus) -> StatusClass {
        if status.is_ok() {
            // ESME_ROK is never overridden: a success is a success.
            return StatusClass::Ok;
        }
        if self.overrides.is_empty() {
            return StatusClass::default_for(status);
        }
        match self.overrides.get(&status.0) {
            Some(&class) => class,
            None => StatusClass::default_for(status),
        }
    }
}

/// Parses a status as written in config: hex (`0x00000045`, `0x45`), decimal (`69`) or the
/// spec's name (`ESME_RSUBMITFAIL`, case-insensitive).
pub fn parse_status(s: &str) -> Result<CommandStatus, String> {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u32::from_str_radix(hex, 16)
            .map(CommandStatus)
            .map_err(|_| format!("`{s}` is not a hex command_status"));
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<u32>()
            .map(CommandStatus)
            .map_err(|_| format!("`{s}` is out of range for a command_status"));
    }
    CommandStatus::ALL
        .iter()
        .copied()
        .find(|c| c.name().is_some_and(|n| n.eq_ignore_ascii_case(t)))
        .ok_or_else(|| {
            format!("`{s}` is not a command_status (write 0x…, a decimal, or an ESME_R… name)")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_table() {
        use StatusClass::*;
        let cases = [
            (CommandStatus::ESME_ROK, Ok),
            (CommandStatus::ESME_RTHROTTLED, Throttled),
            (CommandStatus::ESME_RMSGQFUL, QueueFull),
            (CommandStatus::ESME_RSYSERR, Temporary),
            (CommandStatus::ESME_RSUBMITFAIL, Temporary),
            (CommandStatus::ESME_RX_T_APPN, Temporary),
            (CommandStatus::ESME_RUNKNOWNERR, Temporary),
            (CommandStatus::ESME_RINVDSTADR, Permanent),
            (CommandStatus::ESME_RINVSRCADR, Permanent),
            (CommandStatus::ESME_RINVMSGLEN, Permanent),
            (CommandStatus::ESME_RINVDCS, Permanent),
            (CommandStatus::ESME_RX_P_APPN, Permanent),
            (CommandStatus::ESME_RX_R_APPN, Permanent),
            (CommandStatus::ESME_RINVESMCLASS, Permanent),
            (CommandStatus::ESME_RINVBNDSTS, BindFatal),
            (CommandStatus::ESME_RINVPASWD, BindFatal),
            (CommandStatus::ESME_RALYBND, BindFatal),
            (CommandStatus(0x0000_0401), Permanent),
            (CommandStatus(0x1234_5678), Permanent),
        ];
        let table = StatusTable::default();
        for (status, class) in cases {
            assert_eq!(table.classify(status), class, "{status}");
        }
    }

    #[test]
    fn overrides_win_except_for_ok() {
        let table = StatusTable::new([
            (CommandStatus::ESME_RSUBMITFAIL, StatusClass::Throttled),
            (CommandStatus(0x401), StatusClass::Temporary),
            (CommandStatus::ESME_ROK, StatusClass::Permanent),
        ]);
        assert_eq!(
            table.classify(CommandStatus(0x45)),
            StatusClass::Throttled,
            "carrier-specific meaning"
        );
        assert_eq!(table.classify(CommandStatus(0x401)), StatusClass::Temporary);
        assert_eq!(
            table.classify(CommandStatus::ESME_RINVDSTADR),
            StatusClass::Permanent
        );
        assert_eq!(table.classify(CommandStatus::ESME_ROK), StatusClass::Ok);
    }

    #[test]
    fn parses_status_spellings() {
        assert_eq!(parse_status("0x00000045"), Ok(CommandStatus(0x45)));
        assert_eq!(parse_status("0x58"), Ok(CommandStatus::ESME_RTHROTTLED));
        assert_eq!(parse_status("69"), Ok(CommandStatus(69)));
        assert_eq!(
            parse_status("esme_rthrottled"),
            Ok(CommandStatus::ESME_RTHROTTLED)
        );
        assert!(parse_status("0xZZ").is_err());
        assert!(parse_status("ESME_RNOPE").is_err());
        assert!(parse_status("99999999999").is_err());
        assert!(parse_status("").is_err());
    }

    #[test]
    fn retryable_classes() {
        let retryable: Vec<_> = StatusClass::ALL
            .into_iter()
            .filter(|c| c.is_retryable())
            .collect();
        assert_eq!(
            retryable,
            vec![
                StatusClass::Throttled,
                StatusClass::QueueFull,
                StatusClass::Temporary,
                StatusClass::BindFatal
            ]
        );
    }
}
