//! The daily digest: at the configured local time, each department with contact addresses gets
//! one e-mail listing its overdue and soon-due tickets (steps it is responsible for: signing and
//! handling). Once per day across instances: the run is claimed by a `job_runs` row written in the
//! same transaction as the messages, and each message carries a per-department, per-day dedupe
//! key. A process started after the hour sends the day's digest then.

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;
use diesel::prelude::*;
use serde_json::{json, Value};

use super::outbox::{self, NewMessage};
use crate::accounts::utc;
use crate::db::schema::{departments, job_runs, ticket_deadlines, tickets};
use crate::db::{self, DbConnection};
use crate::error::AppError;
use crate::serde_util::from_json_text;

const JOB: &str = "daily_digest";

/// Writes today's digests if the local time has reached `at` and no instance has yet. Answers
/// the number of messages written (`None`: not due, or already done).
pub fn run_if_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    tz: Tz,
    at: NaiveTime,
) -> Result<Option<usize>, AppError> {
    let local = tz.from_utc_datetime(&now);
    if local.time() < at {
        return Ok(None);
    }
    let date = local.date_naive().format("%Y-%m-%d").to_string();
    let done: Option<String> = job_runs::table
        .find((JOB, &date))
        .select(job_runs::run_key)
        .first(conn)
        .optional()?;
    if done.is_some() {
        return Ok(None);
    }
    db::write_tx(conn, |conn| {
        let claimed = db::insert_unless_duplicate(conn, |c| {
            Ok(diesel::insert_into(job_runs::table)
                .values((
                    job_runs::job.eq(JOB),
                    job_runs::run_key.eq(&date),
                    job_runs::done_at.eq(now),
                ))
                .execute(c)?)
        })?;
        if claimed == 0 {
            return Ok(None); // another instance got there first
        }
        let messages = digests(conn, now, &date, &local.format("%H:%M").to_string())?;
        let n = messages.len();
        outbox::insert(conn, messages, now)?;
        Ok(Some(n))
    })
}

fn digests(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    date: &str,
    time: &str,
) -> Result<Vec<NewMessage>, AppError> {
    let due: Vec<(String, String, String, String, NaiveDateTime)> = ticket_deadlines::table
        .inner_join(tickets::table)
        .filter(ticket_deadlines::completed_at.is_null())
        .filter(ticket_deadlines::paused_at.is_null())
        .filter(ticket_deadlines::yellow_at.le(now))
        .filter(ticket_deadlines::step.eq_any(["sign", "handle"]))
        .filter(tickets::lead_department_id.is_not_null())
        .order(ticket_deadlines::due_at.asc())
        .select((
            tickets::lead_department_id.assume_not_null(),
            tickets::number,
            tickets::title,
            ticket_deadlines::step,
            ticket_deadlines::due_at,
        ))
        .load(conn)?;
    let mut by_department: BTreeMap<String, (Vec<Value>, Vec<Value>)> = BTreeMap::new();
    for (department, number, title, step, due_at) in due {
        let entry = by_department.entry(department).or_default();
        let item = json!({"number": number, "title": title, "step": step, "due_at": utc(due_at)});
        if due_at <= now {
            entry.0.push(item);
        } else {
            entry.1.push(item);
        }
    }
    if by_department.is_empty() {
        return Ok(Vec::new());
    }
    let contacts: Vec<(String, String, String, String)> = departments::table
        .filter(departments::id.eq_any(by_department.keys()))
        .filter(departments::active.eq(true))
        .select((
            departments::id,
            departments::name,
            departments::code,
            departments::contact_emails,
        ))
        .load(conn)?;
    let mut messages = Vec::new();
    for (id, name, code, emails) in contacts {
        let Some((overdue, soon)) = by_department.get(&id) else {
            continue;
        };
        let context = json!({
            "department": {"name": name, "code": code}, "date": date, "time": time,
            "overdue": overdue, "soon": soon,
        });
        for to in from_json_text::<Vec<String>>(&emails) {
            messages.push(
                NewMessage::email(JOB, JOB, &to, None, context.clone())
                    .once(format!("{JOB}:{date}:{id}:{to}")),
            );
        }
    }
    Ok(messages)
}
