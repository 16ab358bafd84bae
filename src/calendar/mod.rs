//! The business calendar (docs/domain.md §3): which days are worked — weekends off, public
//! holidays off, official make-up working days (调休) on — and the working hours of a working day,
//! in the configured time zone. Pure arithmetic over the year data, no I/O: the year files under
//! `config/calendar/` are compiled into the binary ([`shipped_years`]); admins' edits live in the
//! database (`calendar::store`).
//!
//! Two kinds of limit: working minutes ("2 working hours": the clock runs only inside working
//! hours) and working days ("1 working day": the same time of day on the next working day, after
//! moving a start outside working hours to the next working instant). A day of a year without data
//! is an error, never a weekday-only guess.

pub mod store;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

/// One year's official data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct YearData {
    pub year: i32,
    pub holidays: BTreeSet<NaiveDate>,
    /// Make-up working days (weekend days that are worked).
    pub workdays: BTreeSet<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("the business calendar has no data for {0}; add config/calendar/{0}.toml")]
    NoData(i32),
    #[error("calendar: {0}")]
    Invalid(String),
}

/// A working period of the day, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Period {
    fn minutes(&self) -> i64 {
        (self.end - self.start).num_minutes()
    }
}

/// Parses `"08:30-12:00"`.
pub fn parse_period(text: &str) -> Result<Period, CalendarError> {
    let bad = || CalendarError::Invalid(format!("'{text}' is not a period like 08:30-12:00"));
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let start = NaiveTime::parse_from_str(a.trim(), "%H:%M").map_err(|_| bad())?;
    let end = NaiveTime::parse_from_str(b.trim(), "%H:%M").map_err(|_| bad())?;
    if end <= start {
        return Err(bad());
    }
    Ok(Period { start, end })
}

/// Parses a year file: `year`, `holidays` and `workdays`, dates `YYYY-MM-DD` or ranges
/// `FIRST..LAST`.
pub fn parse_year(text: &str) -> Result<YearData, CalendarError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        year: i32,
        #[serde(default)]
        holidays: Vec<String>,
        #[serde(default)]
        workdays: Vec<String>,
    }
    let file: File = toml::from_str(text).map_err(|e| CalendarError::Invalid(e.to_string()))?;
    let dates = |items: &[String]| -> Result<BTreeSet<NaiveDate>, CalendarError> {
        let mut out = BTreeSet::new();
        for item in items {
            let day = |s: &str| {
                NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
                    CalendarError::Invalid(format!("'{item}' is not a date or FIRST..LAST"))
                })
            };
            let (first, last) = match item.split_once("..") {
                Some((a, b)) => (day(a)?, day(b)?),
                None => (day(item)?, day(item)?),
            };
            if last < first || (last - first).num_days() > 60 {
                return Err(CalendarError::Invalid(format!(
                    "'{item}': a range of 1-60 days"
                )));
            }
            let mut d = first;
            while d <= last {
                if d.year() != file.year {
                    return Err(CalendarError::Invalid(format!(
                        "'{item}' is not in {}",
                        file.year
                    )));
                }
                out.insert(d);
                d += Duration::days(1);
            }
        }
        Ok(out)
    };
    let data = YearData {
        year: file.year,
        holidays: dates(&file.holidays)?,
        workdays: dates(&file.workdays)?,
    };
    check_year(&data)?;
    Ok(data)
}

/// The rules every year's data keeps: its dates are in the year, no day is both a holiday and a
/// working day, and a make-up working day falls on a weekend.
pub fn check_year(data: &YearData) -> Result<(), CalendarError> {
    if let Some(d) = data
        .holidays
        .iter()
        .chain(&data.workdays)
        .find(|d| d.year() != data.year)
    {
        return Err(CalendarError::Invalid(format!(
            "{d} is not in {}",
            data.year
        )));
    }
    if let Some(both) = data.holidays.intersection(&data.workdays).next() {
        return Err(CalendarError::Invalid(format!(
            "{both} is both a holiday and a working day"
        )));
    }
    if let Some(d) = data
        .workdays
        .iter()
        .find(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
    {
        return Err(CalendarError::Invalid(format!(
            "workdays: {d} is a weekday already; list only weekend days that are worked"
        )));
    }
    Ok(())
}

/// The year files shipped with the project, compiled into the binary so that it runs from any
/// directory (config/calendar/).
pub fn shipped_years() -> Result<Vec<YearData>, CalendarError> {
    [
        include_str!("../../config/calendar/2025.toml"),
        include_str!("../../config/calendar/2026.toml"),
    ]
    .into_iter()
    .map(parse_year)
    .collect()
}

/// The calendar: time zone, working periods of a day, and the years it knows.
#[derive(Debug, Clone)]
pub struct Calendar {
    tz: Tz,
    periods: Vec<Period>,
    years: BTreeMap<i32, YearData>,
    /// Which days are worked, answered from a table instead of three tree look-ups.
    days: DayIndex,
}

/// Every day from 1 January of the first year with data to 31 December of the last, with the
/// number of worked days before it. Built from `years` whenever they change, so that the
/// working time between two instants costs two look-ups, not a walk over every day between
/// them (a ticket overdue for months is shown in every queue page).
#[derive(Debug, Clone, Default)]
struct DayIndex {
    first: Option<NaiveDate>,
    /// `before[i]`: worked days among the days before day `i`, one entry past the last day; day
    /// `i` is worked when `before[i + 1] > before[i]` (a year without data counts as not
    /// worked; callers check the years).
    before: Vec<u32>,
}

impl DayIndex {
    fn build(years: &BTreeMap<i32, YearData>) -> DayIndex {
        let (Some(first), Some(last)) = (years.keys().next(), years.keys().next_back()) else {
            return DayIndex::default();
        };
        let (Some(start), Some(end)) = (
            NaiveDate::from_ymd_opt(*first, 1, 1),
            NaiveDate::from_ymd_opt(*last, 12, 31),
        ) else {
            return DayIndex::default();
        };
        let mut before = vec![0u32];
        let mut day = start;
        while day <= end {
            let worked = years.get(&day.year()).is_some_and(|y| worked_in(y, day));
            before.push(before.last().copied().unwrap_or(0) + u32::from(worked));
            day += Duration::days(1);
        }
        DayIndex {
            first: Some(start),
            before,
        }
    }

    fn position(&self, day: NaiveDate) -> Option<usize> {
        let offset = (day - self.first?).num_days();
        usize::try_from(offset)
            .ok()
            .filter(|i| i + 1 < self.before.len())
    }

    fn worked(&self, i: usize) -> bool {
        self.before[i + 1] > self.before[i]
    }
}

/// Whether `day` is worked by the year's data: holidays off, make-up days on, else weekdays.
fn worked_in(year: &YearData, day: NaiveDate) -> bool {
    if year.holidays.contains(&day) {
        return false;
    }
    if year.workdays.contains(&day) {
        return true;
    }
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

impl Calendar {
    pub fn new(
        tz: Tz,
        mut periods: Vec<Period>,
        years: Vec<YearData>,
    ) -> Result<Calendar, CalendarError> {
        periods.sort_by_key(|p| p.start);
        if periods.is_empty() || periods.windows(2).any(|w| w[0].end > w[1].start) {
            return Err(CalendarError::Invalid(
                "working hours: one or more periods that do not overlap".into(),
            ));
        }
        let years: BTreeMap<i32, YearData> = years.into_iter().map(|y| (y.year, y)).collect();
        Ok(Calendar {
            tz,
            periods,
            days: DayIndex::build(&years),
            years,
        })
    }

    /// The years with data.
    pub fn years(&self) -> Vec<i32> {
        self.years.keys().copied().collect()
    }

    pub fn year(&self, year: i32) -> Option<&YearData> {
        self.years.get(&year)
    }

    /// Replaces (or adds) one year's data.
    pub fn set_year(&mut self, data: YearData) {
        self.years.insert(data.year, data);
        self.days = DayIndex::build(&self.years);
    }

    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// Whether the local date is worked.
    pub fn is_working_day(&self, day: NaiveDate) -> Result<bool, CalendarError> {
        self.check_years(day.year(), day.year())?;
        Ok(self.days.position(day).is_some_and(|i| self.days.worked(i)))
    }

    /// Every year from `first` to `last` has data, else the first one without.
    fn check_years(&self, first: i32, last: i32) -> Result<(), CalendarError> {
        match (first..=last).find(|y| !self.years.contains_key(y)) {
            Some(missing) => Err(CalendarError::NoData(missing)),
            None => Ok(()),
        }
    }

    fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.with_timezone(&self.tz).naive_local()
    }

    fn utc(&self, t: NaiveDateTime) -> DateTime<Utc> {
        // China keeps no daylight saving; for zones that do, take the earlier of two instants
        self.tz
            .from_local_datetime(&t)
            .earliest()
            .unwrap_or_else(|| self.tz.from_utc_datetime(&t))
            .with_timezone(&Utc)
    }

    fn next_working_day(&self, mut day: NaiveDate) -> Result<NaiveDate, CalendarError> {
        for _ in 0..400 {
            day += Duration::days(1);
            if self.is_working_day(day)? {
                return Ok(day);
            }
        }
        Err(CalendarError::Invalid(
            "no working day within a year".into(),
        ))
    }

    /// The first working instant at or after `t` (local time).
    fn normalise(&self, t: NaiveDateTime) -> Result<NaiveDateTime, CalendarError> {
        let mut day = t.date();
        let mut time = t.time();
        loop {
            if self.is_working_day(day)? {
                for p in &self.periods {
                    if time < p.end {
                        return Ok(day.and_time(time.max(p.start)));
                    }
                }
            }
            day = self.next_working_day(day)?;
            time = NaiveTime::MIN;
        }
    }

    /// `start` plus `minutes` of working time.
    pub fn add_working_minutes(
        &self,
        start: DateTime<Utc>,
        minutes: i64,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let mut at = self.normalise(self.local(start))?;
        let mut left = minutes.max(0);
        loop {
            let day = at.date();
            for p in &self.periods {
                if at.time() >= p.end {
                    continue;
                }
                let from = at.time().max(p.start);
                let room = (p.end - from).num_minutes();
                if left <= room {
                    return Ok(self.utc(day.and_time(from) + Duration::minutes(left)));
                }
                left -= room;
                at = day.and_time(p.end);
            }
            at = self.next_working_day(day)?.and_time(NaiveTime::MIN);
            at = self.normalise(at)?;
        }
    }

    /// `start` plus `days` working days: the same time of day on the `days`-th working day
    /// after the first working instant at or after `start`.
    pub fn add_working_days(
        &self,
        start: DateTime<Utc>,
        days: u32,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let at = self.normalise(self.local(start))?;
        let mut day = at.date();
        for _ in 0..days {
            day = self.next_working_day(day)?;
        }
        Ok(self.utc(day.and_time(at.time())))
    }

    /// Working minutes in `[from, to)`; 0 when `to` is not after `from`.
    pub fn working_minutes_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<i64, CalendarError> {
        if to <= from {
            return Ok(0);
        }
        let (from, to) = (self.local(from), self.local(to));
        let (first, last) = (from.date(), to.date());
        self.check_years(first.year(), last.year())?;
        // the worked minutes of one day inside [from, to)
        let within = |day: NaiveDate| -> Result<i64, CalendarError> {
            if !self.is_working_day(day)? {
                return Ok(0);
            }
            Ok(self
                .periods
                .iter()
                .map(|p| {
                    let a = day.and_time(p.start).max(from);
                    let b = day.and_time(p.end).min(to);
                    if b > a {
                        (b - a).num_minutes()
                    } else {
                        0
                    }
                })
                .sum())
        };
        if first == last {
            return within(first);
        }
        // the first and last days in part, the whole worked days between them from the index
        let whole = match (self.days.position(first), self.days.position(last)) {
            (Some(a), Some(b)) => i64::from(self.days.before[b] - self.days.before[a + 1]),
            _ => return Err(CalendarError::NoData(first.year())),
        };
        Ok(within(first)? + whole * self.minutes_per_day() + within(last)?)
    }

    /// Working minutes in `[from, to)` counted day by day (the definition; tests compare).
    #[cfg(test)]
    pub(crate) fn working_minutes_walked(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<i64, CalendarError> {
        if to <= from {
            return Ok(0);
        }
        let (from, to) = (self.local(from), self.local(to));
        let mut total = 0;
        let mut day = from.date();
        while day <= to.date() {
            let year = self
                .years
                .get(&day.year())
                .ok_or(CalendarError::NoData(day.year()))?;
            if worked_in(year, day) {
                for p in &self.periods {
                    let a = day.and_time(p.start).max(from);
                    let b = day.and_time(p.end).min(to);
                    if b > a {
                        total += (b - a).num_minutes();
                    }
                }
            }
            day += Duration::days(1);
        }
        Ok(total)
    }

    /// Working minutes in one working day (420 by default).
    pub fn minutes_per_day(&self) -> i64 {
        self.periods.iter().map(Period::minutes).sum()
    }
}

#[cfg(test)]
mod tests;

/// The default calendar over the shipped years, for unit tests here and in `deadlines`.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    pub fn shanghai() -> Calendar {
        let periods = vec![
            parse_period("08:30-12:00").expect("am"),
            parse_period("14:00-17:30").expect("pm"),
        ];
        Calendar::new(
            chrono_tz::Asia::Shanghai,
            periods,
            shipped_years().expect("shipped years"),
        )
        .expect("calendar")
    }
}
