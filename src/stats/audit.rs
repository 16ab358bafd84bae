//! The callback-timeliness audit (what supervisors asked for): per operator and per department,
//! the callback rounds due in the period, those done within the limit, those late, and the median
//! and 90th percentile of the time from the reply to the first attempt and to the completed
//! callback, in natural and in working minutes; and the list of late callbacks with who held them
//! and how late. Formulas in docs/indicators.md "Callback audit".
//!
//! A round is one `callback` deadline of a ticket (started by a reply); its callbacks are the
//! ones written by that reply (same ticket, same instant); its operator is the one who made its
//! last attempt (else who holds, or last held, its claim).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::accounts::utc;
use crate::auth::Role;
use crate::calendar::Calendar;
use crate::db::schema::{callback_attempts, callbacks, departments, ticket_deadlines, tickets};
use crate::db::DbConnection;
use crate::error::AppError;
use crate::ids::TicketId;
use crate::tickets::Viewer;

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// First local date (inclusive) on which the callbacks fell due.
    pub from: NaiveDate,
    /// Last local date (inclusive); at most 366 days after `from`.
    pub to: NaiveDate,
    /// One operator's figures (operators: their own only).
    pub operator_id: Option<String>,
    /// The lead department (exactly).
    pub department_id: Option<String>,
}

/// Median and 90th percentile (nearest rank) of a set of minutes; null when empty.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, ToSchema)]
pub struct Spread {
    pub median: Option<i64>,
    pub p90: Option<i64>,
}

fn spread(mut v: Vec<i64>) -> Spread {
    if v.is_empty() {
        return Spread::default();
    }
    v.sort_unstable();
    let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Spread {
        median: Some(rank(0.5)),
        p90: Some(rank(0.9)),
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditRow {
    /// The operator's or the department's id (`null`: no operator touched the round).
    pub id: Option<String>,
    pub name: Option<String>,
    /// Callback rounds whose deadline fell in the period.
    pub due: i64,
    /// Completed no later than the deadline.
    pub in_time: i64,
    /// Completed after the deadline, or still open and past it now.
    pub late: i64,
    /// From the reply to the first attempt: natural minutes, and working minutes.
    pub to_first_attempt: Spread,
    pub to_first_attempt_working: Spread,
    /// From the reply to the completed callback (rounds completed only).
    pub to_completion: Spread,
    pub to_completion_working: Spread,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LateCallback {
    pub ticket_id: TicketId,
    pub number: String,
    pub department_id: Option<String>,
    pub operator_id: Option<String>,
    pub due_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub minutes_late: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Audit {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub by_operator: Vec<AuditRow>,
    pub by_department: Vec<AuditRow>,
    /// Late callbacks, latest first (at most 1,000); drill down with
    /// `GET /api/v1/tickets/{id}/callbacks`.
    pub late: Vec<LateCallback>,
}

/// One round with what the figures need.
struct Round {
    ticket: String,
    number: String,
    department: Option<String>,
    started: NaiveDateTime,
    due: NaiveDateTime,
    completed: Option<NaiveDateTime>,
    late_minutes: Option<i32>,
    operator: Option<String>,
    first_attempt: Option<NaiveDateTime>,
}

pub fn audit(
    conn: &mut DbConnection,
    viewer: &Viewer,
    calendar: &Calendar,
    q: AuditQuery,
) -> Result<Audit, AppError> {
    let roles = &viewer.actor.roles;
    let supervisor = roles.contains(Role::Supervisor) || roles.contains(Role::Admin);
    if viewer.is_department_user() {
        return Err(AppError::Forbidden(
            "the callback audit is the hotline's".into(),
        ));
    }
    let me = viewer.user_id().unwrap_or_default().to_string();
    let operator = match (&q.operator_id, supervisor) {
        (Some(other), false) if *other != me => {
            return Err(AppError::Forbidden(
                "an operator sees their own figures only".into(),
            ))
        }
        (None, false) => Some(me),
        (given, _) => given.clone(),
    };
    if q.to < q.from || (q.to - q.from).num_days() > 366 {
        return Err(AppError::validation(
            "to: on or after from, at most 366 days later",
        ));
    }
    let tz: Tz = calendar.time_zone();
    let (start, end) = super::bounds(tz, q.from, q.to);
    let now = viewer.now;
    let mut rows = ticket_deadlines::table
        .inner_join(tickets::table)
        .filter(ticket_deadlines::step.eq("callback"))
        .filter(ticket_deadlines::due_at.ge(start))
        .filter(ticket_deadlines::due_at.lt(end))
        .select((
            ticket_deadlines::ticket_id,
            tickets::number,
            tickets::lead_department_id,
            ticket_deadlines::started_at,
            ticket_deadlines::due_at,
            ticket_deadlines::completed_at,
            ticket_deadlines::overdue_minutes,
        ))
        .into_boxed();
    if let Some(d) = &q.department_id {
        rows = rows.filter(tickets::lead_department_id.eq(d));
    }
    type DeadlineFacts = (
        String,
        String,
        Option<String>,
        NaiveDateTime,
        NaiveDateTime,
        Option<NaiveDateTime>,
        Option<i32>,
    );
    let deadlines: Vec<DeadlineFacts> = rows.load(conn)?;
    let ids: Vec<String> = deadlines.iter().map(|d| d.0.clone()).collect();
    // the callbacks of these tickets with their attempts (chunked: bounded bind lists)
    let mut cbs: Vec<(String, String, NaiveDateTime, Option<String>)> = Vec::new();
    let mut attempts: Vec<(String, Option<String>, NaiveDateTime)> = Vec::new();
    for chunk in ids.chunks(1000) {
        cbs.extend(
            callbacks::table
                .filter(callbacks::ticket_id.eq_any(chunk))
                .select((
                    callbacks::id,
                    callbacks::ticket_id,
                    callbacks::created_at,
                    callbacks::claimed_by,
                ))
                .load::<(String, String, NaiveDateTime, Option<String>)>(conn)?,
        );
        attempts.extend(
            callback_attempts::table
                .filter(callback_attempts::ticket_id.eq_any(chunk))
                .filter(callback_attempts::operator_id.is_not_null())
                .order(callback_attempts::started_at.asc())
                .select((
                    callback_attempts::callback_id,
                    callback_attempts::operator_id,
                    callback_attempts::started_at,
                ))
                .load::<(String, Option<String>, NaiveDateTime)>(conn)?,
        );
    }
    // callbacks by (ticket, round start) and attempts by callback: looked up, not scanned
    type Callback = (String, String, NaiveDateTime, Option<String>);
    type Attempt = (String, Option<String>, NaiveDateTime);
    let mut cbs_of: std::collections::HashMap<(&str, NaiveDateTime), Vec<&Callback>> =
        std::collections::HashMap::new();
    for c in &cbs {
        cbs_of.entry((c.1.as_str(), c.2)).or_default().push(c);
    }
    let mut attempts_of: std::collections::HashMap<&str, Vec<&Attempt>> =
        std::collections::HashMap::new();
    for a in &attempts {
        attempts_of.entry(a.0.as_str()).or_default().push(a);
    }
    let rounds: Vec<Round> = deadlines
        .into_iter()
        .map(
            |(ticket, number, department, started, due, completed, late)| {
                let own: Vec<&Callback> = cbs_of
                    .get(&(ticket.as_str(), started))
                    .cloned()
                    .unwrap_or_default();
                // in the order loaded (by start time), as before
                let mut tried: Vec<&Attempt> = own
                    .iter()
                    .flat_map(|c| attempts_of.get(c.0.as_str()).cloned().unwrap_or_default())
                    .collect();
                tried.sort_by_key(|a| a.2);
                let operator = tried
                    .last()
                    .and_then(|a| a.1.clone())
                    .or_else(|| own.iter().find_map(|c| c.3.clone()));
                Round {
                    ticket,
                    number,
                    department,
                    started,
                    due,
                    completed,
                    late_minutes: late,
                    operator,
                    first_attempt: tried.first().map(|a| a.2),
                }
            },
        )
        .filter(|r| operator.is_none() || r.operator == operator)
        .collect();
    let working = |a: NaiveDateTime, b: NaiveDateTime| {
        calendar
            .working_minutes_between(utc(a), utc(b))
            .unwrap_or_default()
    };
    let is_late = |r: &Round| match r.completed {
        Some(_) => r.late_minutes.unwrap_or(0) > 0,
        None => now >= r.due,
    };
    let summarise = |key: Option<String>, group: Vec<&Round>| -> AuditRow {
        AuditRow {
            id: key,
            name: None,
            due: group.len() as i64,
            in_time: group
                .iter()
                .filter(|r| r.completed.is_some() && !is_late(r))
                .count() as i64,
            late: group.iter().filter(|r| is_late(r)).count() as i64,
            to_first_attempt: spread(
                group
                    .iter()
                    .filter_map(|r| {
                        r.first_attempt
                            .map(|f| (f - r.started).num_minutes().max(0))
                    })
                    .collect(),
            ),
            to_first_attempt_working: spread(
                group
                    .iter()
                    .filter_map(|r| r.first_attempt.map(|f| working(r.started, f)))
                    .collect(),
            ),
            to_completion: spread(
                group
                    .iter()
                    .filter_map(|r| r.completed.map(|c| (c - r.started).num_minutes().max(0)))
                    .collect(),
            ),
            to_completion_working: spread(
                group
                    .iter()
                    .filter_map(|r| r.completed.map(|c| working(r.started, c)))
                    .collect(),
            ),
        }
    };
    let mut by_operator: BTreeMap<Option<String>, Vec<&Round>> = BTreeMap::new();
    let mut by_department: BTreeMap<Option<String>, Vec<&Round>> = BTreeMap::new();
    for r in &rounds {
        by_operator.entry(r.operator.clone()).or_default().push(r);
        by_department
            .entry(r.department.clone())
            .or_default()
            .push(r);
    }
    let names: Vec<(String, String)> = departments::table
        .filter(departments::id.eq_any(by_department.keys().flatten()))
        .select((departments::id, departments::name))
        .load(conn)?;
    let people: Vec<(String, String)> = crate::db::schema::users::table
        .filter(crate::db::schema::users::id.eq_any(by_operator.keys().flatten()))
        .select((
            crate::db::schema::users::id,
            crate::db::schema::users::display_name,
        ))
        .load(conn)?;
    let named = |rows: BTreeMap<Option<String>, Vec<&Round>>, names: &[(String, String)]| {
        rows.into_iter()
            .map(|(k, g)| {
                let mut row = summarise(k.clone(), g);
                row.name = k.and_then(|k| names.iter().find(|n| n.0 == k).map(|n| n.1.clone()));
                row
            })
            .collect::<Vec<_>>()
    };
    let mut late: Vec<LateCallback> = rounds
        .iter()
        .filter(|r| is_late(r))
        .map(|r| LateCallback {
            ticket_id: TicketId(r.ticket.clone()),
            number: r.number.clone(),
            department_id: r.department.clone(),
            operator_id: r.operator.clone(),
            due_at: utc(r.due),
            completed_at: r.completed.map(utc),
            minutes_late: match r.completed {
                Some(_) => i64::from(r.late_minutes.unwrap_or(0)),
                None => (now - r.due).num_minutes().max(0),
            },
        })
        .collect();
    late.sort_by_key(|l| std::cmp::Reverse(l.due_at));
    late.truncate(1000);
    Ok(Audit {
        from: q.from,
        to: q.to,
        by_operator: named(by_operator, &people),
        by_department: named(by_department, &names),
        late,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(spread(vec![]), Spread::default());
        assert_eq!(
            spread(vec![5]),
            Spread {
                median: Some(5),
                p90: Some(5)
            }
        );
        let s = spread((1..=10).rev().collect());
        assert_eq!((s.median, s.p90), (Some(5), Some(9)));
    }
}
