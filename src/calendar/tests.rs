//! The calendar against the official 2025 and 2026 data (config/calendar/).

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;

use super::*;

fn calendar() -> Calendar {
    super::tests_support::shanghai()
}

/// A Beijing local time as UTC.
fn bj(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("local time")
        .with_timezone(&Utc)
}

#[test]
fn a_make_up_working_day_is_worked() {
    let c = calendar();
    // Friday 2025-09-26 16:00 + 1 working day: Sunday 2025-09-28 is a make-up working day
    assert_eq!(
        c.add_working_days(bj(2025, 9, 26, 16, 0), 1),
        Ok(bj(2025, 9, 28, 16, 0))
    );
    assert_eq!(
        c.is_working_day(NaiveDate::from_ymd_opt(2025, 9, 28).expect("d")),
        Ok(true)
    );
    assert_eq!(
        c.is_working_day(NaiveDate::from_ymd_opt(2025, 9, 27).expect("d")),
        Ok(false)
    );
}

#[test]
fn the_national_day_holiday_is_skipped() {
    let c = calendar();
    // Tuesday 2025-09-30 10:00 + 1 working day: Oct 1-8 are off, Oct 9 is worked
    assert_eq!(
        c.add_working_days(bj(2025, 9, 30, 10, 0), 1),
        Ok(bj(2025, 10, 9, 10, 0))
    );
    // in working minutes: 5h30 left on Sep 30, then 30 minutes on Oct 9
    assert_eq!(
        c.add_working_minutes(bj(2025, 9, 30, 10, 0), 6 * 60),
        Ok(bj(2025, 10, 9, 9, 0))
    );
}

#[test]
fn the_lunch_break_does_not_count() {
    let c = calendar();
    assert_eq!(
        c.add_working_minutes(bj(2025, 11, 12, 11, 30), 60),
        Ok(bj(2025, 11, 12, 14, 30))
    );
    assert_eq!(
        c.working_minutes_between(bj(2025, 11, 12, 11, 30), bj(2025, 11, 12, 14, 30)),
        Ok(60)
    );
}

#[test]
fn a_start_outside_working_hours_waits_for_the_next_working_instant() {
    let c = calendar();
    // Wednesday 18:00 + 30 working minutes: Thursday 09:00
    assert_eq!(
        c.add_working_minutes(bj(2025, 11, 12, 18, 0), 30),
        Ok(bj(2025, 11, 13, 9, 0))
    );
    // Saturday 10:00 + 1 working day: Monday is the first working instant, Tuesday 08:30 the limit
    assert_eq!(
        c.add_working_days(bj(2025, 11, 15, 10, 0), 1),
        Ok(bj(2025, 11, 18, 8, 30))
    );
    // during lunch: the clock starts at 14:00
    assert_eq!(
        c.add_working_minutes(bj(2025, 11, 12, 12, 30), 15),
        Ok(bj(2025, 11, 12, 14, 15))
    );
}

#[test]
fn a_year_without_data_is_an_error() {
    let c = calendar();
    assert_eq!(
        c.add_working_days(bj(2026, 12, 30, 10, 0), 5),
        Err(CalendarError::NoData(2027))
    );
    assert!(parse_year("year = 2025\nholidays = [\"2025-13-01\"]").is_err());
    assert!(parse_year("year = 2025\nholidays = [\"2026-01-01\"]").is_err());
    assert!(
        parse_year("year = 2025\nholidays = [\"2025-01-01\"]\nworkdays = [\"2025-01-01\"]")
            .is_err()
    );
}

#[test]
fn minutes_per_day() {
    assert_eq!(calendar().minutes_per_day(), 420);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Adding working minutes, then measuring the working time between, gives them back.
    #[test]
    fn adding_then_measuring_round_trips(
        day in 0i64..600,
        minute_of_day in 0i64..(24 * 60),
        minutes in 0i64..(20 * 420),
    ) {
        let c = calendar();
        let start = bj(2025, 1, 1, 0, 0)
            + chrono::Duration::days(day)
            + chrono::Duration::minutes(minute_of_day);
        let due = c.add_working_minutes(start, minutes).expect("within the data");
        prop_assert_eq!(c.working_minutes_between(start, due), Ok(minutes));
        prop_assert!(due >= start);
    }

    /// The working time between two instants, from the day index, is the day-by-day count,
    /// over both years and across New Year (and a year without data is the same error).
    #[test]
    fn the_day_index_counts_what_the_walk_counts(
        a in 0i64..(800 * 24 * 60),
        b in 0i64..(800 * 24 * 60),
    ) {
        let c = calendar();
        let origin = bj(2025, 1, 1, 0, 0);
        let (from, to) = (origin + chrono::Duration::minutes(a), origin + chrono::Duration::minutes(b));
        prop_assert_eq!(c.working_minutes_between(from, to), c.working_minutes_walked(from, to));
    }
}
