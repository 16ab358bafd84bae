//! Tickets: intake from the hotline and the mini-program, the lifecycle through the state
//! machine (`state`), the append-only event log, queues and search, and privacy.
//!
//! Every change writes the ticket row and one event in the same transaction; the event's `seq`
//! equals the ticket's new `version`, so the log replays to the row.

pub mod attachments;
pub mod callbacks;
mod citizen;
pub mod deadlines;
pub mod hotspots;
mod intake;
pub mod model;
mod numbering;
pub mod privacy;
mod reads;
pub mod search;
pub mod state;
pub mod supervision;
mod transitions;
mod viewer;

pub use self::citizen::{citizen_ticket, citizen_tickets};
use self::intake::routing_request;
pub use self::intake::{create, submit, submit_as_client, TakenIn};
use self::numbering::next_number;
use self::reads::view_one;
pub use self::reads::{
    access_log, events, get, intake_view, list, overdue_summary, reveal, similar, OverdueCount,
};
pub use self::transitions::act;
use self::transitions::apply;
use self::viewer::system_viewer;
pub use self::viewer::Viewer;

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::Value;

use self::model::*;
use self::state::Facts;
use crate::auth::Role;
use crate::db::schema::{ticket_co_handlers, ticket_events, tickets};
use crate::db::{self, DbConnection};
use crate::error::AppError;
use crate::ids::TicketId;
use crate::vocab::Status;

/// Ticket settings drawn from the configuration.
#[derive(Debug, Clone)]
pub struct TicketPolicy {
    /// Dispatch at intake when routing finds an exact rule match.
    pub auto_dispatch: bool,
    /// Department roles that may reveal citizens' contact data.
    pub department_contact_roles: Vec<Role>,
    /// The calendar and the time-limit policy.
    pub deadlines: deadlines::SharedRules,
    /// The callback and reopening rules (`[tickets]` in the configuration).
    pub followup: Followup,
}

/// How callbacks and reopening work (docs/callbacks.md).
#[derive(Debug, Clone, Copy)]
pub struct Followup {
    pub claim: chrono::Duration,
    pub max_failed_attempts: i32,
    pub reopen_window: chrono::Duration,
    /// Hot spots: tickets within the window that raise an alert (0: off).
    pub hotspot_threshold: i32,
    pub hotspot_window: chrono::Duration,
}

impl From<&crate::config::TicketSettings> for Followup {
    fn from(s: &crate::config::TicketSettings) -> Self {
        Followup {
            claim: chrono::Duration::minutes(s.callback_claim_minutes),
            max_failed_attempts: s.callback_max_failed_attempts,
            reopen_window: chrono::Duration::days(s.reopen_window_days),
            hotspot_threshold: s.hotspot_threshold,
            hotspot_window: chrono::Duration::minutes(s.hotspot_window_minutes),
        }
    }
}

/// What an event records besides who and when.
struct Happened<'a> {
    action: &'a str,
    from: Option<Status>,
    payload: Value,
    public: bool,
}

fn insert_event(
    conn: &mut DbConnection,
    ticket: &TicketRow,
    viewer: &Viewer,
    what: Happened<'_>,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    insert_event_by(conn, ticket, viewer.event_actor(), what, now)
}

/// Records an event that changes no status (a callback claim or attempt, a supervision step):
/// bumps the version (refused when the row changed meanwhile) and appends the event.
fn record_event(
    conn: &mut DbConnection,
    row: &mut TicketRow,
    viewer: &Viewer,
    action: &str,
    payload: Value,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let previous = row.version;
    row.version += 1;
    row.updated_at = now;
    let changed = db::Cached(
        diesel::update(
            tickets::table
                .find(&row.id)
                .filter(tickets::version.eq(previous)),
        )
        .set((
            tickets::version.eq(row.version),
            tickets::updated_at.eq(now),
        )),
    )
    .execute(conn)?;
    if changed == 0 {
        return Err(AppError::Stale(
            "the ticket changed meanwhile; reload and retry".into(),
        ));
    }
    let what = Happened {
        action,
        from: Some(row.status),
        payload,
        public: false,
    };
    insert_event(conn, row, viewer, what, now)
}

/// Appends an event by the service itself (the deadline sweeper).
fn insert_system_event(
    conn: &mut DbConnection,
    ticket: &TicketRow,
    what: Happened<'_>,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    insert_event_by(conn, ticket, ("system", None, None), what, now)
}

fn insert_event_by(
    conn: &mut DbConnection,
    ticket: &TicketRow,
    actor: (&str, Option<String>, Option<String>),
    what: Happened<'_>,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let event = event_row(ticket, actor, &what, now);
    db::Cached(diesel::insert_into(ticket_events::table).values(event)).execute(conn)?;
    notify_event(conn, ticket, &what, now)
}

/// The row of an event of `ticket` (as it is after the event).
fn event_row(
    ticket: &TicketRow,
    (kind, id, role): (&str, Option<String>, Option<String>),
    what: &Happened<'_>,
    now: NaiveDateTime,
) -> EventRow {
    EventRow {
        id: db::new_id(),
        ticket_id: ticket.id.clone(),
        seq: ticket.version,
        action: what.action.to_string(),
        actor_kind: kind.to_string(),
        actor_id: id,
        actor_role: role,
        from_status: what.from.map(|s| s.as_str().to_string()),
        to_status: ticket.status.as_str().to_string(),
        payload: what.payload.to_string(),
        public: what.public,
        created_at: now,
    }
}

/// The messages an event causes, in the same transaction (the outbox).
fn notify_event(
    conn: &mut DbConnection,
    ticket: &TicketRow,
    what: &Happened<'_>,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    crate::notify::on_ticket_event(conn, ticket, what.action, what.from, &what.payload, now)
}

fn co_handlers(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<HashMap<String, Vec<CoHandler>>, AppError> {
    let rows: Vec<(String, String, String)> = ticket_co_handlers::table
        .filter(ticket_co_handlers::ticket_id.eq_any(ids))
        .select((
            ticket_co_handlers::ticket_id,
            ticket_co_handlers::department_id,
            ticket_co_handlers::department_path,
        ))
        .load(conn)?;
    let mut map: HashMap<String, Vec<CoHandler>> = HashMap::new();
    for (ticket, dept, path) in rows {
        map.entry(ticket).or_default().push(CoHandler {
            department_id: dept,
            department_path: path,
        });
    }
    Ok(map)
}

/// The co-handlers `(department id, path)` of one ticket.
fn co_handlers_of(conn: &mut DbConnection, ticket: &str) -> Result<Vec<CoHandler>, AppError> {
    Ok(co_handlers(conn, &[ticket.to_string()])?
        .remove(ticket)
        .unwrap_or_default())
}

fn facts(row: &TicketRow, co: &[CoHandler]) -> Facts {
    Facts {
        status: row.status,
        confidential: row.confidential,
        lead_department_id: row.lead_department_id.clone(),
        lead_department_path: row.lead_department_path.clone(),
        co_department_ids: co.iter().map(|c| c.department_id.clone()).collect(),
        co_department_paths: co.iter().map(|c| c.department_path.clone()).collect(),
        status_before_return: row.status_before_return,
        extension_state: row.extension_state,
    }
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("no ticket with id {id}"))
}

/// Loads a ticket the viewer may see (404 otherwise, without revealing that it exists).
fn load_visible(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &TicketId,
) -> Result<(TicketRow, Vec<CoHandler>), AppError> {
    let row = tickets::table
        .find(id.as_str())
        .first::<TicketRow>(conn)
        .optional()?;
    visible(conn, viewer, id, row)
}

/// `load_visible` with the row locked for the rest of the transaction, in the same statement
/// (PostgreSQL `SELECT … FOR UPDATE`; on SQLite `write_tx` already holds the write lock).
fn load_visible_locked(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &TicketId,
) -> Result<(TicketRow, Vec<CoHandler>), AppError> {
    let found = tickets::table.find(id.as_str());
    let row = match conn {
        DbConnection::Pg(pg) => found.for_update().first::<TicketRow>(pg).optional()?,
        DbConnection::Sqlite(_) => found.first::<TicketRow>(conn).optional()?,
    };
    visible(conn, viewer, id, row)
}

/// The row with its co-handlers when the viewer may see it, else 404.
fn visible(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &TicketId,
    row: Option<TicketRow>,
) -> Result<(TicketRow, Vec<CoHandler>), AppError> {
    let row = row.ok_or_else(|| not_found(id.as_str()))?;
    let co = co_handlers_of(conn, &row.id)?;
    if !state::can_see(&viewer.actor, &facts(&row, &co)) {
        return Err(not_found(id.as_str()));
    }
    Ok((row, co))
}
