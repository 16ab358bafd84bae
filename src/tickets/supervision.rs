//! Supervision (督办): a supervisor flags a ticket with an instruction, a level and a due time;
//! the lead department must answer the flag by then; supervisors urge (催办) with a note, counted;
//! un-flagging is recorded. The flag's due time is a deadline of the ticket (step `supervision`),
//! so the sweeper warns yellow and red like any step, and the notifications tell the department.
//! Every step is an event on the ticket. See docs/callbacks.md "Supervision".

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::model::TicketRow;
use super::viewer::Viewer;
use crate::accounts::utc;
use crate::auth::Role;
use crate::db::schema::{supervision_flags, tickets};
use crate::db::{self, DbConnection};
use crate::error::AppError;
use crate::ids::TicketId;
use crate::validate;
use crate::vocab::SupervisionLevel;

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = supervision_flags)]
pub struct FlagRow {
    pub id: String,
    pub ticket_id: String,
    pub level: SupervisionLevel,
    pub instruction: String,
    pub due_at: NaiveDateTime,
    pub deadline_id: String,
    pub flagged_by: String,
    pub flagged_at: NaiveDateTime,
    pub urge_count: i32,
    pub response: Option<String>,
    pub responded_by: Option<String>,
    pub responded_at: Option<NaiveDateTime>,
    pub cleared_by: Option<String>,
    pub cleared_at: Option<NaiveDateTime>,
    pub clear_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Flag {
    pub id: String,
    pub ticket_id: TicketId,
    pub number: String,
    pub title: String,
    pub lead_department_id: Option<String>,
    pub level: SupervisionLevel,
    pub instruction: String,
    pub due_at: DateTime<Utc>,
    /// Unanswered and past its due time.
    pub overdue: bool,
    pub flagged_by: String,
    pub flagged_at: DateTime<Utc>,
    pub urge_count: i32,
    pub response: Option<String>,
    pub responded_at: Option<DateTime<Utc>>,
    pub cleared_at: Option<DateTime<Utc>>,
    pub clear_reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFlag {
    pub ticket_id: TicketId,
    pub level: SupervisionLevel,
    /// What the department must do, 1-1,000 characters.
    pub instruction: String,
    /// When the department must have answered (in the future).
    pub due_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagText {
    /// 1-1,000 characters: the urge's note, the department's answer, or the reason to un-flag.
    pub text: String,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FlagFilter {
    pub level: Option<SupervisionLevel>,
    /// `true`: flags not yet cleared (default); `false`: cleared ones.
    pub open: Option<bool>,
    /// Unanswered flags past their due time only.
    pub overdue: Option<bool>,
    pub department_id: Option<String>,
}

fn text(field: &str, value: &str) -> Result<String, AppError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(AppError::validation(format!("{field}: 1-1000 characters")));
    }
    validate::text_ok(v, 1000).map_err(|e| AppError::validation(format!("{field}: {e}")))?;
    Ok(v.to_string())
}

fn supervisor(viewer: &Viewer) -> Result<String, AppError> {
    let roles = &viewer.actor.roles;
    if !(roles.contains(Role::Supervisor) || roles.contains(Role::Admin)) {
        return Err(AppError::Forbidden(
            "supervision flags are set, urged and cleared by supervisors".into(),
        ));
    }
    Ok(viewer.user_id().unwrap_or_default().to_string())
}

/// The ticket's number, title and lead department, shown with its flag.
type TicketBrief = (String, String, Option<String>);

fn view(row: FlagRow, t: &TicketBrief, now: NaiveDateTime) -> Flag {
    Flag {
        overdue: row.responded_at.is_none() && row.cleared_at.is_none() && now >= row.due_at,
        id: row.id,
        ticket_id: TicketId(row.ticket_id),
        number: t.0.clone(),
        title: t.1.clone(),
        lead_department_id: t.2.clone(),
        level: row.level,
        instruction: row.instruction,
        due_at: utc(row.due_at),
        flagged_by: row.flagged_by,
        flagged_at: utc(row.flagged_at),
        urge_count: row.urge_count,
        response: row.response,
        responded_at: row.responded_at.map(utc),
        cleared_at: row.cleared_at.map(utc),
        clear_reason: row.clear_reason,
    }
}

fn one(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> Result<Flag, AppError> {
    let row: FlagRow = supervision_flags::table.find(id).first(conn)?;
    let t: TicketBrief = tickets::table
        .find(&row.ticket_id)
        .select((tickets::number, tickets::title, tickets::lead_department_id))
        .first(conn)?;
    Ok(view(row, &t, now))
}

/// Loads a flag and locks its ticket (as the viewer may see it).
fn lock(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &str,
) -> Result<(FlagRow, TicketRow), AppError> {
    let missing = || AppError::NotFound(format!("no supervision flag with id {id}"));
    let ticket: String = supervision_flags::table
        .find(id)
        .select(supervision_flags::ticket_id)
        .first(conn)
        .optional()?
        .ok_or_else(missing)?;
    db::lock_tickets(conn, &[ticket.as_str()])?;
    let (row, _) = super::load_visible(conn, viewer, &TicketId(ticket)).map_err(|_| missing())?;
    let flag: FlagRow = supervision_flags::table.find(id).first(conn)?;
    if flag.cleared_at.is_some() {
        return Err(AppError::conflict(
            "flag_cleared",
            "the supervision flag has been cleared",
        ));
    }
    Ok((flag, row))
}

/// A supervisor flags a ticket (one open flag per ticket).
pub fn flag(
    conn: &mut DbConnection,
    viewer: &Viewer,
    input: NewFlag,
    now: NaiveDateTime,
) -> Result<Flag, AppError> {
    let me = supervisor(viewer)?;
    let instruction = text("instruction", &input.instruction)?;
    let due = input.due_at.naive_utc();
    if due <= now {
        return Err(AppError::validation("due_at: must be in the future"));
    }
    let ticket = &input.ticket_id;
    db::write_tx(conn, |conn| {
        db::lock_tickets(conn, &[ticket.as_str()])?;
        let (mut row, _) = super::load_visible(conn, viewer, ticket)
            .map_err(|_| AppError::validation("ticket_id: no such ticket"))?;
        if !row.status.is_open() {
            return Err(AppError::conflict(
                "ticket_closed",
                format!("the ticket is {}", row.status),
            ));
        }
        let open: i64 = supervision_flags::table
            .filter(supervision_flags::ticket_id.eq(&row.id))
            .filter(supervision_flags::cleared_at.is_null())
            .count()
            .get_result(conn)?;
        if open > 0 {
            return Err(AppError::conflict(
                "already_flagged",
                "the ticket already has an open supervision flag; urge it or clear it first",
            ));
        }
        let deadline_id = super::deadlines::start_until(conn, &row.id, "supervision", now, due)?;
        let flag = FlagRow {
            id: db::new_id(),
            ticket_id: row.id.clone(),
            level: input.level,
            instruction: instruction.clone(),
            due_at: due,
            deadline_id,
            flagged_by: me,
            flagged_at: now,
            urge_count: 0,
            response: None,
            responded_by: None,
            responded_at: None,
            cleared_by: None,
            cleared_at: None,
            clear_reason: None,
        };
        diesel::insert_into(supervision_flags::table)
            .values(&flag)
            .execute(conn)?;
        let payload = json!({"flag_id": flag.id, "level": input.level, "instruction": instruction,
            "due_at": utc(due), "department_id": row.lead_department_id});
        super::record_event(conn, &mut row, viewer, "flag", payload, now)?;
        one(conn, &flag.id, now)
    })
}

/// A supervisor urges the department (催办); each urge is counted.
pub fn urge(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &str,
    input: FlagText,
    now: NaiveDateTime,
) -> Result<Flag, AppError> {
    supervisor(viewer)?;
    let note = text("text", &input.text)?;
    db::write_tx(conn, |conn| {
        let (flag, mut row) = lock(conn, viewer, id)?;
        let count = flag.urge_count + 1;
        diesel::update(supervision_flags::table.find(id))
            .set(supervision_flags::urge_count.eq(count))
            .execute(conn)?;
        let payload = json!({"flag_id": id, "text": note, "urge_count": count});
        super::record_event(conn, &mut row, viewer, "urge", payload, now)?;
        one(conn, id, now)
    })
}

/// The lead department answers the flag; the flag's deadline is met (or late, kept).
pub fn respond(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &str,
    input: FlagText,
    now: NaiveDateTime,
) -> Result<Flag, AppError> {
    let answer = text("text", &input.text)?;
    db::write_tx(conn, |conn| {
        let (flag, mut row) = lock(conn, viewer, id)?;
        let lead = viewer.actor.department_id.is_some()
            && viewer.actor.department_id == row.lead_department_id
            && viewer.is_department_user();
        if !lead {
            return Err(AppError::Forbidden(
                "the lead department answers a supervision flag".into(),
            ));
        }
        if flag.responded_at.is_some() {
            return Err(AppError::conflict(
                "already_answered",
                "the flag has been answered",
            ));
        }
        let late = super::deadlines::complete_one(conn, &row.id, &flag.deadline_id, now)?;
        diesel::update(supervision_flags::table.find(id))
            .set((
                supervision_flags::response.eq(Some(&answer)),
                supervision_flags::responded_by.eq(viewer.user_id()),
                supervision_flags::responded_at.eq(Some(now)),
            ))
            .execute(conn)?;
        let payload = json!({"flag_id": id, "text": answer, "minutes_late": late.unwrap_or(0)});
        super::record_event(conn, &mut row, viewer, "flag_response", payload, now)?;
        one(conn, id, now)
    })
}

/// A supervisor clears the flag, with a reason; an unanswered flag's deadline ends then.
pub fn clear(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &str,
    input: FlagText,
    now: NaiveDateTime,
) -> Result<Flag, AppError> {
    let me = supervisor(viewer)?;
    let reason = text("text", &input.text)?;
    db::write_tx(conn, |conn| {
        let (flag, mut row) = lock(conn, viewer, id)?;
        super::deadlines::complete_one(conn, &row.id, &flag.deadline_id, now)?;
        diesel::update(supervision_flags::table.find(id))
            .set((
                supervision_flags::cleared_by.eq(Some(&me)),
                supervision_flags::cleared_at.eq(Some(now)),
                supervision_flags::clear_reason.eq(Some(&reason)),
            ))
            .execute(conn)?;
        let payload = json!({"flag_id": id, "reason": reason,
            "answered": flag.responded_at.is_some(), "urge_count": flag.urge_count});
        super::record_event(conn, &mut row, viewer, "unflag", payload, now)?;
        one(conn, id, now)
    })
}

/// Flags, soonest due first: supervisors and hotline staff see all; a department its own.
pub fn list(
    conn: &mut DbConnection,
    viewer: &Viewer,
    filter: FlagFilter,
) -> Result<Vec<Flag>, AppError> {
    let now = viewer.now;
    let mut q = supervision_flags::table
        .inner_join(tickets::table.on(tickets::id.eq(supervision_flags::ticket_id)))
        .select((
            supervision_flags::all_columns,
            (tickets::number, tickets::title, tickets::lead_department_id),
        ))
        .into_boxed();
    if filter.open.unwrap_or(true) {
        q = q.filter(supervision_flags::cleared_at.is_null());
    } else {
        q = q.filter(supervision_flags::cleared_at.is_not_null());
    }
    if let Some(level) = filter.level {
        q = q.filter(supervision_flags::level.eq(level));
    }
    if filter.overdue == Some(true) {
        q = q
            .filter(supervision_flags::responded_at.is_null())
            .filter(supervision_flags::due_at.le(now));
    }
    if let Some(d) = filter.department_id {
        q = q.filter(tickets::lead_department_id.eq(d));
    }
    if viewer.is_department_user() {
        let own = viewer.actor.department_path.clone().unwrap_or_default();
        q = q.filter(tickets::lead_department_path.like(format!("{own}%")));
    } else if !(viewer.actor.roles.contains(Role::Supervisor)
        || viewer.actor.roles.contains(Role::Admin))
    {
        q = q.filter(tickets::confidential.eq(false));
    }
    let rows: Vec<(FlagRow, TicketBrief)> = q
        .order((supervision_flags::due_at.asc(), supervision_flags::id.asc()))
        .limit(500)
        .load(conn)?;
    Ok(rows.into_iter().map(|(f, t)| view(f, &t, now)).collect())
}
