//! Deadlines (docs/deadlines.md): the time-limit policy of each step — per step × kind ×
//! urgency, with the catalogue's per-category overrides — and the arithmetic that turns a limit
//! into a due instant with the business calendar. Pure: no I/O.

pub mod policy;

pub use self::policy::{Limit, Policy, PolicyError, Step};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::calendar::{Calendar, CalendarError};

/// Where an open step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineState {
    OnTrack,
    /// Little time is left: a working day (a day, for clock limits) or a fifth of the span,
    /// whichever is shorter.
    Yellow,
    /// Overdue.
    Red,
}

/// When a step started at `start` and due at `due` turns yellow.
pub fn yellow_at(
    calendar: &Calendar,
    limit: Limit,
    start: DateTime<Utc>,
    due: DateTime<Utc>,
) -> Result<DateTime<Utc>, CalendarError> {
    if limit.is_working_time() {
        let span = calendar.working_minutes_between(start, due)?;
        let warn = (span / 5).min(calendar.minutes_per_day());
        calendar.add_working_minutes(start, span - warn)
    } else {
        let span = (due - start).num_minutes();
        let warn = (span / 5).min(24 * 60);
        Ok(due - Duration::minutes(warn))
    }
}

pub fn state(now: DateTime<Utc>, yellow: DateTime<Utc>, due: DateTime<Utc>) -> DeadlineState {
    if now >= due {
        DeadlineState::Red
    } else if now >= yellow {
        DeadlineState::Yellow
    } else {
        DeadlineState::OnTrack
    }
}

/// Time left until `due`, in the limit's own time (working minutes for working limits, clock
/// minutes for clock limits); negative once overdue.
pub fn remaining_minutes(
    calendar: &Calendar,
    limit: Limit,
    now: DateTime<Utc>,
    due: DateTime<Utc>,
) -> Result<i64, CalendarError> {
    if !limit.is_working_time() {
        return Ok((due - now).num_minutes());
    }
    if now <= due {
        calendar.working_minutes_between(now, due)
    } else {
        Ok(-calendar.working_minutes_between(due, now)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn bj(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(2025, 11, d, h, m, 0)
            .single()
            .expect("t")
            .with_timezone(&Utc)
    }

    #[test]
    fn yellow_comes_a_working_day_or_a_fifth_before() {
        let c = crate::calendar::tests_support::shanghai();
        // 10 working days from Monday 2025-11-10 09:00: due Monday 11-24 09:00, yellow a working
        // day earlier (Friday 11-21 09:00)
        let start = bj(10, 9, 0);
        let due = Limit::WorkingDays(10).due(&c, start).expect("due");
        assert_eq!(due, bj(24, 9, 0));
        assert_eq!(
            yellow_at(&c, Limit::WorkingDays(10), start, due),
            Ok(bj(21, 9, 0))
        );
        // 2 working hours: a fifth (24 minutes) before
        let due = Limit::WorkingMinutes(120).due(&c, start).expect("due");
        assert_eq!(due, bj(10, 11, 0));
        assert_eq!(
            yellow_at(&c, Limit::WorkingMinutes(120), start, due),
            Ok(bj(10, 10, 36))
        );
        // 24 hours on the clock: a fifth
        let due = Limit::Natural(24 * 60).due(&c, start).expect("due");
        assert_eq!(
            yellow_at(&c, Limit::Natural(24 * 60), start, due),
            Ok(due - Duration::minutes(288))
        );
        assert_eq!(
            state(bj(10, 10, 0), bj(10, 10, 36), bj(10, 11, 0)),
            DeadlineState::OnTrack
        );
        assert_eq!(
            state(bj(10, 10, 40), bj(10, 10, 36), bj(10, 11, 0)),
            DeadlineState::Yellow
        );
        assert_eq!(
            state(bj(10, 11, 0), bj(10, 10, 36), bj(10, 11, 0)),
            DeadlineState::Red
        );
        assert_eq!(
            remaining_minutes(
                &c,
                Limit::WorkingMinutes(120),
                bj(10, 11, 30),
                bj(10, 11, 0)
            ),
            Ok(-30)
        );
    }
}
