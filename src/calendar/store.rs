//! Calendar years edited by admins: stored in the database over the shipped year files, each
//! edit recorded with its author and the data before and after.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Calendar, YearData};
use crate::accounts::utc;
use crate::db::schema::{calendar_changes, calendar_years};
use crate::db::{self, DbConnection};
use crate::error::AppError;
use crate::ids::UserId;

/// One year of the business calendar as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CalendarYear {
    pub year: i32,
    /// Public holidays (days off), ascending.
    pub holidays: Vec<NaiveDate>,
    /// Make-up working days (weekend days that are worked), ascending.
    pub workdays: Vec<NaiveDate>,
    /// `file` (shipped with the binary) or `edited` (changed through the API).
    pub source: String,
    pub updated_by: Option<UserId>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// `PUT /api/v1/calendar/{year}`: the whole year's data.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarYearInput {
    pub holidays: Vec<NaiveDate>,
    pub workdays: Vec<NaiveDate>,
}

/// One recorded edit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CalendarChange {
    pub id: String,
    pub year: i32,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Object)]
    pub after: serde_json::Value,
    pub changed_by: Option<UserId>,
    pub changed_at: DateTime<Utc>,
}

type Row = (i32, String, String, Option<String>, NaiveDateTime);

fn dates(text: &str) -> Result<Vec<NaiveDate>, AppError> {
    serde_json::from_str(text)
        .map_err(|e| AppError::Internal(format!("stored calendar dates unreadable: {e}")))
}

fn from_data(data: &YearData) -> CalendarYear {
    CalendarYear {
        year: data.year,
        holidays: data.holidays.iter().copied().collect(),
        workdays: data.workdays.iter().copied().collect(),
        source: "file".into(),
        updated_by: None,
        updated_at: None,
    }
}

fn from_row(row: Row) -> Result<CalendarYear, AppError> {
    let (year, holidays, workdays, by, at) = row;
    Ok(CalendarYear {
        year,
        holidays: dates(&holidays)?,
        workdays: dates(&workdays)?,
        source: "edited".into(),
        updated_by: by.map(UserId),
        updated_at: Some(utc(at)),
    })
}

fn load_row(conn: &mut DbConnection, year: i32) -> Result<Option<Row>, AppError> {
    Ok(calendar_years::table
        .find(year)
        .first::<Row>(conn)
        .optional()?)
}

/// The year as in force: an edit if there is one, else the shipped file; 404 when neither.
pub fn get(conn: &mut DbConnection, base: &Calendar, year: i32) -> Result<CalendarYear, AppError> {
    match load_row(conn, year)? {
        Some(row) => from_row(row),
        None => base
            .year(year)
            .map(from_data)
            .ok_or_else(|| AppError::NotFound(format!("the calendar has no data for {year}"))),
    }
}

/// Every year with data, edits over files.
pub fn list(conn: &mut DbConnection, base: &Calendar) -> Result<Vec<CalendarYear>, AppError> {
    let rows: Vec<Row> = calendar_years::table
        .order(calendar_years::year.asc())
        .load(conn)?;
    let mut years: std::collections::BTreeMap<i32, CalendarYear> = base
        .years()
        .into_iter()
        .filter_map(|y| base.year(y).map(|d| (y, from_data(d))))
        .collect();
    for row in rows {
        let year = from_row(row)?;
        years.insert(year.year, year);
    }
    Ok(years.into_values().collect())
}

/// Replaces a year's data (validated like a year file) and records the change.
pub fn put(
    conn: &mut DbConnection,
    base: &Calendar,
    year: i32,
    input: CalendarYearInput,
    actor: &UserId,
    now: NaiveDateTime,
) -> Result<CalendarYear, AppError> {
    if !(2000..=2100).contains(&year) {
        return Err(AppError::validation("year: 2000-2100"));
    }
    let data = YearData {
        year,
        holidays: input.holidays.into_iter().collect(),
        workdays: input.workdays.into_iter().collect(),
    };
    super::check_year(&data).map_err(|e| AppError::validation(e.to_string()))?;
    let holidays = serde_json::to_string(&data.holidays).unwrap_or_default();
    let workdays = serde_json::to_string(&data.workdays).unwrap_or_default();
    db::write_tx(conn, |conn| {
        let before = match load_row(conn, year)? {
            Some(row) => Some(from_row(row)?),
            None => base.year(year).map(from_data),
        };
        let existing = diesel::update(calendar_years::table.find(year))
            .set((
                calendar_years::holidays.eq(&holidays),
                calendar_years::workdays.eq(&workdays),
                calendar_years::updated_by.eq(Some(actor.as_str())),
                calendar_years::updated_at.eq(now),
            ))
            .execute(conn)?;
        if existing == 0 {
            diesel::insert_into(calendar_years::table)
                .values((
                    calendar_years::year.eq(year),
                    calendar_years::holidays.eq(&holidays),
                    calendar_years::workdays.eq(&workdays),
                    calendar_years::updated_by.eq(Some(actor.as_str())),
                    calendar_years::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        let after = from_row((
            year,
            holidays.clone(),
            workdays.clone(),
            Some(actor.0.clone()),
            now,
        ))?;
        let snapshot = |y: &CalendarYear| {
            serde_json::json!({"holidays": y.holidays, "workdays": y.workdays, "source": y.source})
                .to_string()
        };
        diesel::insert_into(calendar_changes::table)
            .values((
                calendar_changes::id.eq(db::new_id()),
                calendar_changes::year.eq(year),
                calendar_changes::before.eq(before.as_ref().map(snapshot)),
                calendar_changes::after.eq(snapshot(&after)),
                calendar_changes::changed_by.eq(Some(actor.as_str())),
                calendar_changes::changed_at.eq(now),
            ))
            .execute(conn)?;
        Ok(after)
    })
}

/// The recorded edits of a year, oldest first.
pub fn history(conn: &mut DbConnection, year: i32) -> Result<Vec<CalendarChange>, AppError> {
    type ChangeRow = (
        String,
        i32,
        Option<String>,
        String,
        Option<String>,
        NaiveDateTime,
    );
    let rows: Vec<ChangeRow> = calendar_changes::table
        .filter(calendar_changes::year.eq(year))
        .order(calendar_changes::id.asc())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, year, before, after, by, at)| CalendarChange {
            id,
            year,
            before: before.and_then(|b| serde_json::from_str(&b).ok()),
            after: serde_json::from_str(&after).unwrap_or_default(),
            changed_by: by.map(UserId),
            changed_at: utc(at),
        })
        .collect())
}
