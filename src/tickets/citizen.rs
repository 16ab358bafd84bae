//! What a citizen sees of their own tickets through the mini-program gateway.

use std::collections::HashMap;

use diesel::prelude::*;

use super::model::*;
use super::*;
use crate::db::schema::{ticket_events, tickets};
use crate::db::DbConnection;
use crate::error::AppError;
use crate::ids::TicketId;
use crate::pagination::{Page, PageRequest};

/// A citizen's own tickets, as the mini-program shows them: status, public progress and the
/// reply, nothing internal.
pub fn citizen_tickets(
    conn: &mut DbConnection,
    open_id: &str,
    page: &PageRequest,
) -> Result<Page<CitizenTicket>, AppError> {
    if open_id.trim().is_empty() {
        return Err(AppError::bad_request("invalid_query", "open_id: required"));
    }
    let mut query = tickets::table
        .filter(tickets::citizen_open_id.eq(open_id))
        .into_boxed();
    if let Some(after) = page.after_key()? {
        query = query.filter(tickets::id.lt(after.to_string()));
    }
    let rows: Vec<TicketRow> = query
        .order(tickets::id.desc())
        .limit(page.fetch_limit())
        .load(conn)?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let notes: Vec<EventRow> = ticket_events::table
        .filter(ticket_events::ticket_id.eq_any(&ids))
        .filter(ticket_events::public.eq(true))
        .order(ticket_events::seq.asc())
        .load(conn)?;
    let mut by_ticket: HashMap<String, Vec<EventRow>> = HashMap::new();
    for n in notes {
        by_ticket.entry(n.ticket_id.clone()).or_default().push(n);
    }
    Ok(Page::from_rows(rows, page, |r| vec![r.id.clone()])
        .map(|r| CitizenTicket::new(&r, by_ticket.remove(&r.id).unwrap_or_default())))
}

pub fn citizen_ticket(
    conn: &mut DbConnection,
    open_id: &str,
    id: &TicketId,
) -> Result<CitizenTicket, AppError> {
    let row: TicketRow = tickets::table
        .find(id.as_str())
        .filter(tickets::citizen_open_id.eq(open_id))
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found(id.as_str()))?;
    let notes: Vec<EventRow> = ticket_events::table
        .filter(ticket_events::ticket_id.eq(&row.id))
        .filter(ticket_events::public.eq(true))
        .order(ticket_events::seq.asc())
        .load(conn)?;
    Ok(CitizenTicket::new(&row, notes))
}
