//! Time-limit policies: how long each step may take, per kind and urgency (docs/domain.md §3),
//! and whether the limit counts working time or the natural clock (`urgent` and `critical` run
//! day and night).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{Calendar, CalendarError};
use crate::catalogue::TimeLimits;
use crate::vocab::{Kind, Urgency};

/// A step of a ticket's life that runs against a limit.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Step {
    /// From registration to dispatch.
    Dispatch,
    /// From dispatch to the department's sign-for.
    Sign,
    /// How long after dispatch a department may still return the ticket.
    ReturnWindow,
    /// From dispatch (or redo) to the department's reply.
    Handle,
    /// From the reply to the completed callback.
    Callback,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A limit: working time, or natural time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Limit {
    /// `Nwd`: the same time of day N working days later.
    WorkingDays(u32),
    /// `Nwh` / `Nwmin`: N minutes of working hours.
    WorkingMinutes(i64),
    /// `Nh` / `Nmin` / `Nd`: N minutes on the clock, day and night.
    Natural(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

impl FromStr for Limit {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Limit, PolicyError> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let n: i64 = number.parse().map_err(|_| {
            PolicyError(format!(
                "'{s}' is not a limit like 2wd, 2wh, 90wmin, 24h, 30min, 3d"
            ))
        })?;
        if n <= 0 || n > 100_000 {
            return Err(PolicyError(format!("'{s}': the number must be 1-100000")));
        }
        Ok(match unit {
            "wd" => Limit::WorkingDays(u32::try_from(n).unwrap_or(u32::MAX)),
            "wh" => Limit::WorkingMinutes(n * 60),
            "wmin" => Limit::WorkingMinutes(n),
            "d" => Limit::Natural(n * 24 * 60),
            "h" => Limit::Natural(n * 60),
            "min" => Limit::Natural(n),
            _ => {
                return Err(PolicyError(format!(
                    "'{s}': the unit is one of wd, wh, wmin (working time), d, h, min (the clock)"
                )))
            }
        })
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::WorkingDays(n) => write!(f, "{n}wd"),
            Limit::WorkingMinutes(m) if m % 60 == 0 => write!(f, "{}wh", m / 60),
            Limit::WorkingMinutes(m) => write!(f, "{m}wmin"),
            Limit::Natural(m) if m % (24 * 60) == 0 && *m >= 2 * 24 * 60 => {
                write!(f, "{}d", m / (24 * 60))
            }
            Limit::Natural(m) if m % 60 == 0 => write!(f, "{}h", m / 60),
            Limit::Natural(m) => write!(f, "{m}min"),
        }
    }
}

impl From<Limit> for String {
    fn from(l: Limit) -> String {
        l.to_string()
    }
}

impl TryFrom<String> for Limit {
    type Error = PolicyError;
    fn try_from(s: String) -> Result<Limit, PolicyError> {
        s.parse()
    }
}

impl Limit {
    /// When a step started at `start` under this limit is due.
    pub fn due(
        self,
        calendar: &Calendar,
        start: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, CalendarError> {
        match self {
            Limit::WorkingDays(n) => calendar.add_working_days(start, n),
            Limit::WorkingMinutes(m) => calendar.add_working_minutes(start, m),
            Limit::Natural(m) => Ok(start + Duration::minutes(m)),
        }
    }

    pub fn is_working_time(self) -> bool {
        !matches!(self, Limit::Natural(_))
    }
}

/// The limits of one urgency: one per step, the handling limit per kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrgencyLimits {
    pub dispatch: Limit,
    pub sign: Limit,
    pub return_window: Limit,
    /// By kind; `default` for kinds not listed.
    pub handle: BTreeMap<String, Limit>,
    pub callback: Limit,
}

/// The whole policy (`[deadlines]` in the configuration): limits by urgency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub normal: UrgencyLimits,
    pub urgent: UrgencyLimits,
    pub critical: UrgencyLimits,
    /// The longest extension a department may ask for, in working days.
    pub max_extension_working_days: u32,
}

impl Policy {
    /// Checks what deserialising cannot: every handle map has a `default` and only known kinds.
    pub fn validate(&self) -> Result<(), PolicyError> {
        for (name, limits) in [
            ("normal", &self.normal),
            ("urgent", &self.urgent),
            ("critical", &self.critical),
        ] {
            if !limits.handle.contains_key("default") {
                return Err(PolicyError(format!(
                    "deadlines.{name}.handle: give a `default` limit"
                )));
            }
            if let Some(bad) = limits
                .handle
                .keys()
                .find(|k| *k != "default" && k.parse::<Kind>().is_err())
            {
                return Err(PolicyError(format!(
                    "deadlines.{name}.handle.{bad}: not a kind"
                )));
            }
        }
        if !(1..=60).contains(&self.max_extension_working_days) {
            return Err(PolicyError(
                "deadlines.max_extension_working_days: 1-60".into(),
            ));
        }
        Ok(())
    }

    fn for_urgency(&self, urgency: Urgency) -> &UrgencyLimits {
        match urgency {
            Urgency::Normal => &self.normal,
            Urgency::Urgent => &self.urgent,
            Urgency::Critical => &self.critical,
        }
    }

    /// The limit of `step` for a ticket of this kind and urgency. A category's own limits
    /// (working days) override the defaults of `normal` tickets; `urgent` and `critical` ones
    /// keep their clock limits.
    pub fn limit(
        &self,
        step: Step,
        kind: Kind,
        urgency: Urgency,
        category: Option<&TimeLimits>,
    ) -> Limit {
        let limits = self.for_urgency(urgency);
        let own = category
            .filter(|_| urgency == Urgency::Normal)
            .and_then(|c| match step {
                Step::Sign => c.sign_working_days,
                Step::Handle => c.handle_working_days,
                Step::Callback => c.callback_working_days,
                Step::Dispatch | Step::ReturnWindow => None,
            });
        if let Some(days) = own.filter(|d| *d > 0) {
            return Limit::WorkingDays(days);
        }
        match step {
            Step::Dispatch => limits.dispatch,
            Step::Sign => limits.sign,
            Step::ReturnWindow => limits.return_window,
            Step::Callback => limits.callback,
            Step::Handle => limits
                .handle
                .get(kind.as_str())
                .or_else(|| limits.handle.get("default"))
                .copied()
                .unwrap_or(Limit::WorkingDays(10)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        let text = include_str!("../../config/default.toml");
        #[derive(Deserialize)]
        struct Wrapper {
            deadlines: Policy,
        }
        let w: Wrapper = toml::from_str(text).expect("default.toml has [deadlines]");
        w.deadlines.validate().expect("valid");
        w.deadlines
    }

    #[test]
    fn limits_parse_and_print() {
        for (text, limit) in [
            ("2wd", Limit::WorkingDays(2)),
            ("2wh", Limit::WorkingMinutes(120)),
            ("90wmin", Limit::WorkingMinutes(90)),
            ("24h", Limit::Natural(24 * 60)),
            ("30min", Limit::Natural(30)),
            ("3d", Limit::Natural(3 * 24 * 60)),
        ] {
            assert_eq!(text.parse::<Limit>(), Ok(limit), "{text}");
            assert_eq!(limit.to_string(), text);
        }
        for bad in ["", "wd", "0wd", "2 weeks", "-1h", "2x"] {
            assert!(bad.parse::<Limit>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_policy_is_the_domain_table() {
        let p = policy();
        let n = Urgency::Normal;
        assert_eq!(
            p.limit(Step::Dispatch, Kind::Help, n, None),
            Limit::WorkingMinutes(120)
        );
        assert_eq!(
            p.limit(Step::Sign, Kind::Help, n, None),
            Limit::WorkingDays(1)
        );
        assert_eq!(
            p.limit(Step::ReturnWindow, Kind::Help, n, None),
            Limit::WorkingDays(2)
        );
        assert_eq!(
            p.limit(Step::Handle, Kind::Consultation, n, None),
            Limit::WorkingDays(2)
        );
        assert_eq!(
            p.limit(Step::Handle, Kind::Help, n, None),
            Limit::WorkingDays(10)
        );
        assert_eq!(
            p.limit(Step::Handle, Kind::Suggestion, n, None),
            Limit::WorkingDays(10)
        );
        assert_eq!(
            p.limit(Step::Handle, Kind::Complaint, n, None),
            Limit::WorkingDays(15)
        );
        assert_eq!(
            p.limit(Step::Handle, Kind::Report, n, None),
            Limit::WorkingDays(15)
        );
        assert_eq!(
            p.limit(Step::Callback, Kind::Help, n, None),
            Limit::WorkingDays(1)
        );
        let u = Urgency::Urgent;
        assert_eq!(
            p.limit(Step::Dispatch, Kind::Help, u, None),
            Limit::Natural(30)
        );
        assert_eq!(p.limit(Step::Sign, Kind::Help, u, None), Limit::Natural(60));
        assert_eq!(
            p.limit(Step::Handle, Kind::Complaint, u, None),
            Limit::Natural(24 * 60)
        );
        assert_eq!(
            p.limit(Step::Callback, Kind::Help, u, None),
            Limit::Natural(4 * 60)
        );
        let c = Urgency::Critical;
        assert_eq!(
            p.limit(Step::Dispatch, Kind::Help, c, None),
            Limit::Natural(15)
        );
        assert_eq!(p.limit(Step::Sign, Kind::Help, c, None), Limit::Natural(30));
        assert_eq!(
            p.limit(Step::Handle, Kind::Help, c, None),
            Limit::Natural(120)
        );
        assert_eq!(
            p.limit(Step::Callback, Kind::Help, c, None),
            Limit::Natural(120)
        );
        assert_eq!(p.max_extension_working_days, 10);
    }

    #[test]
    fn a_category_overrides_normal_limits_only() {
        let p = policy();
        let own = TimeLimits {
            sign_working_days: Some(2),
            handle_working_days: Some(5),
            callback_working_days: None,
        };
        assert_eq!(
            p.limit(Step::Handle, Kind::Complaint, Urgency::Normal, Some(&own)),
            Limit::WorkingDays(5)
        );
        assert_eq!(
            p.limit(Step::Sign, Kind::Help, Urgency::Normal, Some(&own)),
            Limit::WorkingDays(2)
        );
        assert_eq!(
            p.limit(Step::Callback, Kind::Help, Urgency::Normal, Some(&own)),
            Limit::WorkingDays(1)
        );
        assert_eq!(
            p.limit(Step::Handle, Kind::Help, Urgency::Critical, Some(&own)),
            Limit::Natural(120)
        );
    }

    #[test]
    fn natural_limits_ignore_the_calendar() {
        let calendar = crate::calendar::tests_support::shanghai();
        // Saturday 2025-10-04 (a holiday) 10:00 Beijing + 2h on the clock
        let start = DateTime::parse_from_rfc3339("2025-10-04T02:00:00Z")
            .expect("t")
            .with_timezone(&Utc);
        assert_eq!(
            Limit::Natural(120).due(&calendar, start),
            Ok(start + Duration::hours(2))
        );
        assert_eq!(
            Limit::WorkingDays(1).due(&calendar, start),
            DateTime::parse_from_rfc3339("2025-10-10T00:30:00Z")
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| CalendarError::NoData(0))
        );
    }
}
