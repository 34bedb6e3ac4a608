//! A step's wait and a sequence's send window, as the API writes them:
//! `{"business_days": 3}`, `{"days": ["mon", ...], "from_hour": 9,
//! "to_hour": 17}`.

use serde::{Deserialize, Serialize};

/// The most steps a sequence may have.
pub const MAX_STEPS: usize = 20;

/// The longest wait, in days of any kind (a year).
const MAX_WAIT_DAYS: u32 = 365;

/// Why a step or window is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// A wait longer than a year.
    #[error("a wait may be at most 365 days")]
    WaitTooLong,
    /// A window with no day.
    #[error("a send window needs at least one day")]
    NoDay,
    /// Hours outside 0..=24 or not increasing.
    #[error("from_hour must be below to_hour, both within 0..=24")]
    Hours,
}

/// How long to wait after the previous step (or the enrolment, for the
/// first step) before sending. Business days skip Saturday and Sunday in
/// the contact's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Wait {
    /// Minutes.
    Minutes(u32),
    /// Hours.
    Hours(u32),
    /// Calendar days.
    Days(u32),
    /// Monday to Friday.
    BusinessDays(u32),
}

impl Wait {
    /// Checks the length.
    pub fn check(self) -> Result<Self, StepError> {
        let days = match self {
            Self::Minutes(n) => n / (24 * 60),
            Self::Hours(n) => n / 24,
            Self::Days(n) => n,
            // Five business days are seven calendar days.
            Self::BusinessDays(n) => n.saturating_mul(7) / 5,
        };
        if days > MAX_WAIT_DAYS {
            Err(StepError::WaitTooLong)
        } else {
            Ok(self)
        }
    }

    /// The unit and number, as stored.
    pub fn parts(self) -> (&'static str, u32) {
        match self {
            Self::Minutes(n) => ("minutes", n),
            Self::Hours(n) => ("hours", n),
            Self::Days(n) => ("days", n),
            Self::BusinessDays(n) => ("business_days", n),
        }
    }

    /// The wait from its stored unit and number.
    pub fn from_parts(unit: &str, n: u32) -> Option<Self> {
        Some(match unit {
            "minutes" => Self::Minutes(n),
            "hours" => Self::Hours(n),
            "days" => Self::Days(n),
            "business_days" => Self::BusinessDays(n),
            _ => return None,
        })
    }
}

/// A day of the week, as the window names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

/// When a sequence may send, read in the contact's time zone, else the
/// sequence's: the days and the hours `[from_hour, to_hour)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendWindow {
    /// The days it may send.
    pub days: Vec<Day>,
    /// The first hour (0..=23).
    pub from_hour: u8,
    /// The hour it stops (1..=24).
    pub to_hour: u8,
}

impl SendWindow {
    /// Checks the days and hours; sorts and deduplicates the days.
    pub fn check(mut self) -> Result<Self, StepError> {
        if self.days.is_empty() {
            return Err(StepError::NoDay);
        }
        if self.from_hour >= self.to_hour || self.to_hour > 24 {
            return Err(StepError::Hours);
        }
        self.days.sort_unstable();
        self.days.dedup();
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_as_the_api_writes_them() {
        let w: Wait = serde_json::from_str(r#"{"business_days": 3}"#).unwrap();
        assert_eq!(w, Wait::BusinessDays(3));
        assert_eq!(Wait::from_parts(w.parts().0, w.parts().1), Some(w));
        assert!(serde_json::from_str::<Wait>(r#"{"weeks": 3}"#).is_err());
        assert_eq!(Wait::Days(366).check(), Err(StepError::WaitTooLong));
        assert_eq!(Wait::BusinessDays(270).check(), Err(StepError::WaitTooLong));
        assert!(Wait::Minutes(30).check().is_ok());
    }

    #[test]
    fn windows_are_checked() {
        let w: SendWindow = serde_json::from_str(
            r#"{"days": ["fri", "mon", "mon"], "from_hour": 9, "to_hour": 17}"#,
        )
        .unwrap();
        assert_eq!(w.check().unwrap().days, vec![Day::Mon, Day::Fri]);
        let bad = SendWindow {
            days: vec![Day::Mon],
            from_hour: 17,
            to_hour: 9,
        };
        assert_eq!(bad.check(), Err(StepError::Hours));
        let none = SendWindow {
            days: vec![],
            from_hour: 9,
            to_hour: 17,
        };
        assert_eq!(none.check(), Err(StepError::NoDay));
    }
}
