//! Hot spots (热点): `tickets.hotspot_threshold` new tickets of one category in one village (a
//! ticket placed in a grid counts for its village) within `tickets.hotspot_window_minutes` raise
//! one alert, in the transaction of the ticket that reaches the threshold; the cluster's later
//! tickets join that alert instead of raising another while the cluster stays active (a new
//! ticket within the window of the last one). A broken water main reported by 30 households
//! reaches a supervisor as one alert with 30 tickets, and a suggestion to merge them into the
//! oldest. See docs/indicators.md "Hot spots".

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::model::TicketRow;
use super::viewer::Viewer;
use super::Followup;
use crate::accounts::utc;
use crate::auth::Role;
use crate::db::schema::{hotspot_alerts, hotspot_tickets, regions, tickets};
use crate::db::{self, DbConnection};
use crate::error::AppError;
use crate::ids::TicketId;
use crate::vocab::{RegionLevel, Status};

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = hotspot_alerts)]
struct AlertRow {
    id: String,
    category_id: String,
    region_id: String,
    ticket_count: i32,
    first_ticket_at: NaiveDateTime,
    last_ticket_at: NaiveDateTime,
    raised_at: NaiveDateTime,
    dismissed_at: Option<NaiveDateTime>,
    dismissed_by: Option<String>,
    dismiss_reason: Option<String>,
}

/// The region a ticket's hot spots are counted in: a grid's village, else the region itself.
pub(super) fn cluster_of(id: &str, level: &str, parent_id: Option<&str>) -> String {
    match (level == RegionLevel::Grid.as_str(), parent_id) {
        (true, Some(parent)) => parent.to_string(),
        _ => id.to_string(),
    }
}

/// A new ticket's place in the hot-spot count: its category and its cluster (village), when it
/// has both and hot spots are counted at all (`watch`).
pub(super) struct Watched {
    category: String,
    place: String,
}

/// What `observe` will count the ticket under, or `None` when it counts nowhere.
pub(super) fn watch(
    rules: &Followup,
    category: Option<&str>,
    cluster: Option<String>,
) -> Option<Watched> {
    match (category, cluster) {
        (Some(category), Some(place)) if rules.hotspot_threshold > 0 => Some(Watched {
            category: category.to_string(),
            place,
        }),
        _ => None,
    }
}

impl Watched {
    /// The key (`db::lock_id`) that serialises the hot-spot decisions of the cluster.
    pub(super) fn lock_key(&self) -> String {
        format!("hotspot:{}:{}", self.category, self.place)
    }
}

/// Called at intake, in the ticket's transaction, which already holds the cluster's lock
/// (`Watched::lock_key`; taken with the ticket's number on PostgreSQL, one round trip for both;
/// on SQLite the write lock serialises): joins the ticket to its cluster's active alert, or
/// raises the alert when the window now holds enough tickets. The active alert and, when there
/// is none, the window's count are read in one statement.
pub(super) fn observe(
    conn: &mut DbConnection,
    rules: &Followup,
    row: &TicketRow,
    Watched { category, place }: Watched,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let since = now - rules.hotspot_window;
    let places = regions::table
        .filter(
            regions::id.eq(place.clone()).or(regions::parent_id
                .eq(place.clone())
                .and(regions::level.eq(RegionLevel::Grid))),
        )
        .select(regions::id.nullable());
    let recent = tickets::table
        .filter(tickets::category_id.eq(category.clone()))
        .filter(tickets::region_id.eq_any(places))
        .filter(tickets::created_at.ge(since))
        .filter(tickets::status.ne(Status::Merged));
    let active = hotspot_alerts::table
        .filter(hotspot_alerts::category_id.eq(category.clone()))
        .filter(hotspot_alerts::region_id.eq(place.clone()))
        .filter(hotspot_alerts::last_ticket_at.ge(since))
        .filter(hotspot_alerts::dismissed_at.is_null())
        .select(hotspot_alerts::id);
    // the window is counted only when no alert is active (an active hot spot's window is
    // exactly the one that holds many tickets)
    let (active, count): (Option<String>, Option<i64>) = diesel::select((
        active.clone().single_value(),
        diesel::dsl::case_when(
            active.single_value().is_null(),
            recent.clone().count().single_value(),
        ),
    ))
    .get_result(conn)?;
    if let Some(alert) = active {
        // one round trip on PostgreSQL
        return db::write_together(
            conn,
            vec![
                Box::new(diesel::insert_into(hotspot_tickets::table).values((
                    hotspot_tickets::alert_id.eq(&alert),
                    hotspot_tickets::ticket_id.eq(&row.id),
                ))),
                Box::new(diesel::update(hotspot_alerts::table.find(&alert)).set((
                    hotspot_alerts::ticket_count.eq(hotspot_alerts::ticket_count + 1),
                    hotspot_alerts::last_ticket_at.eq(now),
                ))),
            ],
        );
    }
    // the tickets themselves are read only when they raise an alert
    if count.unwrap_or(0) < i64::from(rules.hotspot_threshold) {
        return Ok(());
    }
    let recent: Vec<(String, NaiveDateTime)> = recent
        .order(tickets::created_at.asc())
        .select((tickets::id, tickets::created_at))
        .load(conn)?;
    let alert = AlertRow {
        id: db::new_id(),
        category_id: category.clone(),
        region_id: place,
        ticket_count: i32::try_from(recent.len()).unwrap_or(i32::MAX),
        first_ticket_at: recent.first().map_or(now, |r| r.1),
        last_ticket_at: now,
        raised_at: now,
        dismissed_at: None,
        dismissed_by: None,
        dismiss_reason: None,
    };
    diesel::insert_into(hotspot_alerts::table)
        .values(&alert)
        .execute(conn)?;
    for (ticket, _) in &recent {
        diesel::insert_into(hotspot_tickets::table)
            .values((
                hotspot_tickets::alert_id.eq(&alert.id),
                hotspot_tickets::ticket_id.eq(ticket),
            ))
            .execute(conn)?;
    }
    tracing::info!(alert = %alert.id, tickets = recent.len(), "hot spot raised");
    Ok(())
}

/// One ticket of an alert.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertTicket {
    pub id: TicketId,
    pub number: String,
    pub title: String,
    pub status: Status,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Alert {
    pub id: String,
    pub category_id: String,
    /// The village (or the region itself when it is no grid).
    pub region_id: String,
    pub ticket_count: i32,
    pub first_ticket_at: DateTime<Utc>,
    pub last_ticket_at: DateTime<Utc>,
    pub raised_at: DateTime<Utc>,
    pub dismissed_at: Option<DateTime<Utc>>,
    pub dismiss_reason: Option<String>,
    /// The tickets behind it, oldest first.
    pub tickets: Vec<AlertTicket>,
    /// The oldest open ticket, to merge the others into (`POST /api/v1/tickets/{id}/merge`).
    pub merge_into: Option<TicketId>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlertFilter {
    /// `true` (default): alerts not dismissed; `false`: dismissed ones.
    pub open: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dismissal {
    /// Why (1-1,000 characters).
    pub reason: String,
}

fn hotline(viewer: &Viewer) -> Result<(), AppError> {
    if viewer.is_department_user() {
        return Err(AppError::Forbidden(
            "hot-spot alerts are for the hotline's staff".into(),
        ));
    }
    Ok(())
}

fn views(conn: &mut DbConnection, rows: Vec<AlertRow>) -> Result<Vec<Alert>, AppError> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    type Behind = (String, String, String, String, Status, NaiveDateTime);
    let behind: Vec<Behind> = hotspot_tickets::table
        .inner_join(tickets::table.on(tickets::id.eq(hotspot_tickets::ticket_id)))
        .filter(hotspot_tickets::alert_id.eq_any(&ids))
        .order(tickets::created_at.asc())
        .select((
            hotspot_tickets::alert_id,
            tickets::id,
            tickets::number,
            tickets::title,
            tickets::status,
            tickets::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let tickets: Vec<AlertTicket> = behind
                .iter()
                .filter(|b| b.0 == r.id)
                .map(|b| AlertTicket {
                    id: TicketId(b.1.clone()),
                    number: b.2.clone(),
                    title: b.3.clone(),
                    status: b.4,
                    created_at: utc(b.5),
                })
                .collect();
            let merge_into = tickets
                .iter()
                .find(|t| t.status.is_open())
                .map(|t| t.id.clone());
            Alert {
                id: r.id,
                category_id: r.category_id,
                region_id: r.region_id,
                ticket_count: r.ticket_count,
                first_ticket_at: utc(r.first_ticket_at),
                last_ticket_at: utc(r.last_ticket_at),
                raised_at: utc(r.raised_at),
                dismissed_at: r.dismissed_at.map(utc),
                dismiss_reason: r.dismiss_reason,
                tickets,
                merge_into,
            }
        })
        .collect())
}

/// Alerts, newest first (at most 200).
pub fn list(
    conn: &mut DbConnection,
    viewer: &Viewer,
    filter: AlertFilter,
) -> Result<Vec<Alert>, AppError> {
    hotline(viewer)?;
    let mut q = hotspot_alerts::table.into_boxed();
    q = if filter.open.unwrap_or(true) {
        q.filter(hotspot_alerts::dismissed_at.is_null())
    } else {
        q.filter(hotspot_alerts::dismissed_at.is_not_null())
    };
    let rows: Vec<AlertRow> = q
        .order(hotspot_alerts::raised_at.desc())
        .limit(200)
        .load(conn)?;
    views(conn, rows)
}

/// A supervisor dismisses an alert with a reason (handled, or a false alarm).
pub fn dismiss(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &str,
    input: Dismissal,
    now: NaiveDateTime,
) -> Result<Alert, AppError> {
    let roles = &viewer.actor.roles;
    if !(roles.contains(Role::Supervisor) || roles.contains(Role::Admin)) {
        return Err(AppError::Forbidden(
            "supervisors dismiss hot-spot alerts".into(),
        ));
    }
    let reason = input.reason.trim().to_string();
    if reason.is_empty() {
        return Err(AppError::validation("reason: 1-1000 characters"));
    }
    crate::validate::text_ok(&reason, 1000)
        .map_err(|e| AppError::validation(format!("reason: {e}")))?;
    db::write_tx(conn, |conn| {
        let n = diesel::update(
            hotspot_alerts::table
                .find(id)
                .filter(hotspot_alerts::dismissed_at.is_null()),
        )
        .set((
            hotspot_alerts::dismissed_at.eq(Some(now)),
            hotspot_alerts::dismissed_by.eq(viewer.user_id()),
            hotspot_alerts::dismiss_reason.eq(Some(&reason)),
        ))
        .execute(conn)?;
        if n == 0 {
            return Err(AppError::NotFound(format!(
                "no open hot-spot alert with id {id}"
            )));
        }
        let row: AlertRow = hotspot_alerts::table.find(id).first(conn)?;
        Ok(views(conn, vec![row])?.remove(0))
    })
}
