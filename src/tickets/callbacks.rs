//! The callback (回访): after a reply, one callback per distinct citizen of the ticket (its own,
//! and those of the tickets merged into it). An operator claims a callback (one holder at a time,
//! for `tickets.callback_claim_minutes`; a supervisor may reassign it), records each attempt
//! (channel, outcome, times; a reached citizen's verdict), and when every citizen's callback has
//! ended the ticket is concluded by the service: satisfied (or basically) and resolved → closed;
//! dissatisfied or unresolved → back to the same department (redo) with a new handling deadline;
//! nobody reached after `callback_max_failed_attempts` each → closed as unreachable. The
//! mini-program gateway submits the citizen's own rating once, which completes that citizen's
//! callback (channel `miniprogram`). Praise and anonymous tickets close without a callback.
//! Every claim and attempt is an event on the ticket. See docs/callbacks.md.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::model::{ActionBody, CoHandler, Conclusion, TicketRow};
use super::state::Action;
use super::viewer::Viewer;
use crate::accounts::utc;
use crate::auth::Role;
use crate::db::schema::{callback_attempts, callbacks, ticket_deadlines, tickets, users};
use crate::db::{self, DbConnection};
use crate::error::AppError;
use crate::ids::TicketId;
use crate::pagination::{Page, PageParams};
use crate::validate;
use crate::vocab::{
    CallOutcome, CallbackChannel, CallbackResult, CallbackState, Kind, Satisfaction, Status,
};

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = callbacks)]
pub struct CallbackRow {
    pub id: String,
    pub ticket_id: String,
    pub citizen_ticket_id: String,
    pub citizen_key: String,
    /// The ticket version of the reply that opened it: one round of callbacks per reply.
    pub reply_seq: i32,
    pub state: CallbackState,
    pub claimed_by: Option<String>,
    pub claim_expires_at: Option<NaiveDateTime>,
    pub failed_attempts: i32,
    pub channel: Option<CallbackChannel>,
    pub satisfaction: Option<Satisfaction>,
    pub resolved: Option<bool>,
    pub created_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = callback_attempts)]
pub struct AttemptRow {
    pub id: String,
    pub callback_id: String,
    pub ticket_id: String,
    pub operator_id: Option<String>,
    pub api_client_id: Option<String>,
    pub channel: CallbackChannel,
    pub outcome: CallOutcome,
    pub satisfaction: Option<Satisfaction>,
    pub resolved: Option<bool>,
    pub comment: Option<String>,
    pub started_at: NaiveDateTime,
    pub ended_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// Whether a ticket is followed up by a callback at all (docs/domain.md §4).
pub fn needs_callback(row: &TicketRow) -> bool {
    row.kind != Kind::Praise && !row.anonymous
}

/// After a reply: opens one callback per distinct citizen, or closes a ticket that needs none.
pub(super) fn open(
    conn: &mut DbConnection,
    viewer: &Viewer,
    row: TicketRow,
    co: Vec<CoHandler>,
    now: NaiveDateTime,
) -> Result<(TicketRow, Vec<CoHandler>), AppError> {
    if !needs_callback(&row) {
        let body = ActionBody {
            reason: Some("praise and anonymous tickets close without a callback".into()),
            conclusion: Some(Conclusion {
                result: CallbackResult::NoCallback,
                satisfaction: None,
                resolved: None,
            }),
            ..Default::default()
        };
        return super::apply(conn, &viewer.as_system(), row, co, Action::Close, body, now);
    }
    let merged: Vec<TicketRow> = tickets::table
        .filter(tickets::merged_into.eq(&row.id))
        .filter(tickets::anonymous.eq(false))
        .order(tickets::created_at.asc())
        .load(conn)?;
    let mut seen: Vec<String> = Vec::new();
    for citizen in std::iter::once(&row).chain(merged.iter()) {
        let key = citizen
            .citizen_phone
            .clone()
            .or_else(|| citizen.citizen_open_id.clone())
            .unwrap_or_else(|| citizen.id.clone());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key.clone());
        diesel::insert_into(callbacks::table)
            .values(CallbackRow {
                id: db::new_id(),
                ticket_id: row.id.clone(),
                citizen_ticket_id: citizen.id.clone(),
                citizen_key: key,
                reply_seq: row.version,
                state: CallbackState::Pending,
                claimed_by: None,
                claim_expires_at: None,
                failed_attempts: 0,
                channel: None,
                satisfaction: None,
                resolved: None,
                created_at: now,
                completed_at: None,
            })
            .execute(conn)?;
    }
    Ok((row, co))
}

/// Ends the pending callbacks of a ticket a supervisor closes or sends back by hand.
pub(super) fn cancel_pending(
    conn: &mut DbConnection,
    ticket: &str,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    diesel::update(
        callbacks::table
            .filter(callbacks::ticket_id.eq(ticket))
            .filter(callbacks::state.eq(CallbackState::Pending)),
    )
    .set((
        callbacks::state.eq(CallbackState::Cancelled),
        callbacks::completed_at.eq(Some(now)),
        callbacks::claimed_by.eq(None::<String>),
        callbacks::claim_expires_at.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    Ok(())
}

/// What the callbacks of the current round conclude, once none is pending (pure).
pub fn conclude(round: &[CallbackRow]) -> Option<Conclusion> {
    if round.is_empty() || round.iter().any(|c| c.state == CallbackState::Pending) {
        return None;
    }
    let reached: Vec<&CallbackRow> = round
        .iter()
        .filter(|c| c.state == CallbackState::Done)
        .collect();
    if reached.is_empty() {
        return Some(Conclusion {
            result: CallbackResult::Unreachable,
            satisfaction: None,
            resolved: None,
        });
    }
    let worst = reached
        .iter()
        .filter_map(|c| c.satisfaction)
        .max_by_key(|s| match s {
            Satisfaction::Satisfied => 0,
            Satisfaction::BasicallySatisfied => 1,
            Satisfaction::Dissatisfied => 2,
        });
    let resolved = reached.iter().all(|c| c.resolved == Some(true));
    let result = match (worst, resolved) {
        (Some(Satisfaction::Dissatisfied), _) | (_, false) => CallbackResult::Dissatisfied,
        (Some(Satisfaction::BasicallySatisfied), true) => CallbackResult::BasicallySatisfied,
        _ => CallbackResult::Satisfied,
    };
    Some(Conclusion {
        result,
        satisfaction: worst,
        resolved: Some(resolved),
    })
}

/// After a callback ended: when none of the round is pending, closes the ticket or sends it
/// back (as the service, in the same transaction).
fn conclude_ticket(
    conn: &mut DbConnection,
    viewer: &Viewer,
    row: TicketRow,
    now: NaiveDateTime,
) -> Result<TicketRow, AppError> {
    let latest: Option<i32> = callbacks::table
        .filter(callbacks::ticket_id.eq(&row.id))
        .select(diesel::dsl::max(callbacks::reply_seq))
        .first(conn)?;
    let round: Vec<CallbackRow> = callbacks::table
        .filter(callbacks::ticket_id.eq(&row.id))
        .filter(callbacks::reply_seq.eq(latest.unwrap_or_default()))
        .filter(callbacks::state.ne(CallbackState::Cancelled))
        .load(conn)?;
    let Some(conclusion) = conclude(&round) else {
        return Ok(row);
    };
    let (action, reason) = match conclusion.result {
        CallbackResult::Dissatisfied => (
            Action::Redo,
            "callback: the citizen is not satisfied or the matter is unresolved",
        ),
        CallbackResult::Unreachable => (Action::Close, "callback: no citizen could be reached"),
        _ => (Action::Close, "callback: the citizen confirmed the result"),
    };
    let body = ActionBody {
        reason: Some(reason.into()),
        conclusion: Some(conclusion),
        ..Default::default()
    };
    let co = super::co_handlers_of(conn, &row.id)?;
    super::apply(conn, &viewer.as_system(), row, co, action, body, now).map(|(row, _)| row)
}

// ---- views and inputs -----------------------------------------------------------------------

/// One citizen's callback as the desk sees it (no personal data: the number is revealed on the
/// ticket with a reason, as always).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Callback {
    pub id: String,
    pub ticket_id: TicketId,
    pub number: String,
    pub title: String,
    /// The ticket whose citizen is called (the ticket itself, or one merged into it).
    pub citizen_ticket_id: TicketId,
    pub lead_department_id: Option<String>,
    pub category_id: Option<String>,
    pub state: CallbackState,
    /// The operator holding the claim, and until when.
    pub claimed_by: Option<String>,
    pub claim_expires_at: Option<DateTime<Utc>>,
    pub failed_attempts: i32,
    pub satisfaction: Option<Satisfaction>,
    pub resolved: Option<bool>,
    /// The callback deadline (the ticket's `callback` step).
    pub due_at: Option<DateTime<Utc>>,
    /// `on_track`, `yellow` or `red` now.
    pub due_state: Option<crate::deadlines::DeadlineState>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attempt {
    pub id: String,
    pub callback_id: String,
    pub operator_id: Option<String>,
    pub api_client_id: Option<String>,
    pub channel: CallbackChannel,
    pub outcome: CallOutcome,
    pub satisfaction: Option<Satisfaction>,
    pub resolved: Option<bool>,
    pub comment: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
}

impl From<AttemptRow> for Attempt {
    fn from(r: AttemptRow) -> Attempt {
        Attempt {
            id: r.id,
            callback_id: r.callback_id,
            operator_id: r.operator_id,
            api_client_id: r.api_client_id,
            channel: r.channel,
            outcome: r.outcome,
            satisfaction: r.satisfaction,
            resolved: r.resolved,
            comment: r.comment,
            started_at: utc(r.started_at),
            ended_at: utc(r.ended_at),
        }
    }
}

/// A ticket's callbacks with their attempts (the drill-down).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketCallbacks {
    pub callbacks: Vec<Callback>,
    pub attempts: Vec<Attempt>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttemptInput {
    pub channel: CallbackChannel,
    pub outcome: CallOutcome,
    /// When the call started and ended (default: now).
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Required when `reached`; refused otherwise.
    pub satisfaction: Option<Satisfaction>,
    /// Required when `reached`: did the citizen call the matter resolved?
    pub resolved: Option<bool>,
    /// At most 1,000 characters.
    pub comment: Option<String>,
}

/// The citizen's own rating from the mini-program.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingInput {
    pub satisfaction: Satisfaction,
    pub resolved: bool,
    /// At most 1,000 characters.
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReassignInput {
    /// An active operator, dispatcher or supervisor.
    pub operator_id: String,
}

/// The callback queue's filters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QueueFilter {
    /// The lead department.
    pub department_id: Option<String>,
    pub category_id: Option<String>,
    /// `on_track`, `yellow` or `red`.
    pub due: Option<crate::deadlines::DeadlineState>,
    /// Only the callbacks I hold.
    pub mine: Option<bool>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

type QueueRow = (CallbackRow, String, String, Option<String>, Option<String>);

fn view(
    (c, number, title, dept, category): QueueRow,
    due: Option<(NaiveDateTime, NaiveDateTime)>,
    now: NaiveDateTime,
) -> Callback {
    use crate::deadlines::DeadlineState;
    let due_state = due.map(|(yellow, due)| {
        if now >= due {
            DeadlineState::Red
        } else if now >= yellow {
            DeadlineState::Yellow
        } else {
            DeadlineState::OnTrack
        }
    });
    let live_claim = c.claim_expires_at.filter(|t| *t > now);
    Callback {
        id: c.id,
        ticket_id: TicketId(c.ticket_id),
        number,
        title,
        citizen_ticket_id: TicketId(c.citizen_ticket_id),
        lead_department_id: dept,
        category_id: category,
        state: c.state,
        claimed_by: live_claim.and(c.claimed_by),
        claim_expires_at: live_claim.map(utc),
        failed_attempts: c.failed_attempts,
        satisfaction: c.satisfaction,
        resolved: c.resolved,
        due_at: due.map(|(_, d)| utc(d)),
        due_state: due_state.filter(|_| c.state == CallbackState::Pending),
        created_at: utc(c.created_at),
        completed_at: c.completed_at.map(utc),
    }
}

fn hotline_only(viewer: &Viewer) -> Result<(), AppError> {
    if viewer.is_department_user() {
        return Err(AppError::Forbidden(
            "callbacks are the hotline's: operators, dispatchers, supervisors".into(),
        ));
    }
    Ok(())
}

/// The open callback deadlines (yellow, due) of these tickets.
fn callback_deadlines(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<Vec<(String, NaiveDateTime, NaiveDateTime)>, AppError> {
    Ok(ticket_deadlines::table
        .filter(ticket_deadlines::ticket_id.eq_any(ids))
        .filter(ticket_deadlines::step.eq("callback"))
        .filter(ticket_deadlines::completed_at.is_null())
        .select((
            ticket_deadlines::ticket_id,
            ticket_deadlines::yellow_at,
            ticket_deadlines::due_at,
        ))
        .load(conn)?)
}

fn views(
    conn: &mut DbConnection,
    rows: Vec<QueueRow>,
    now: NaiveDateTime,
) -> Result<Vec<Callback>, AppError> {
    let ids: Vec<String> = rows.iter().map(|r| r.0.ticket_id.clone()).collect();
    let due = callback_deadlines(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let d = due
                .iter()
                .find(|(t, _, _)| *t == r.0.ticket_id)
                .map(|(_, y, d)| (*y, *d));
            view(r, d, now)
        })
        .collect())
}

/// The callback queue: pending callbacks by due time (the ticket's callback deadline), then id.
pub fn queue(
    conn: &mut DbConnection,
    viewer: &Viewer,
    filter: QueueFilter,
) -> Result<Page<Callback>, AppError> {
    hotline_only(viewer)?;
    let now = viewer.now;
    let page = PageParams {
        limit: filter.limit,
        cursor: filter.cursor,
    }
    .validate()?;
    let mut q = callbacks::table
        .inner_join(tickets::table)
        .filter(callbacks::state.eq(CallbackState::Pending))
        .filter(tickets::status.eq(Status::Replied))
        .select((
            callbacks::all_columns,
            tickets::number,
            tickets::title,
            tickets::lead_department_id,
            tickets::category_id,
        ))
        .into_boxed();
    if !viewer.actor.roles.contains(Role::Supervisor) && !viewer.actor.roles.contains(Role::Admin) {
        q = q.filter(tickets::confidential.eq(false));
    }
    if let Some(d) = filter.department_id {
        q = q.filter(tickets::lead_department_id.eq(d));
    }
    if let Some(c) = filter.category_id {
        q = q.filter(tickets::category_id.eq(c));
    }
    if filter.mine == Some(true) {
        q = q
            .filter(callbacks::claimed_by.eq(viewer.user_id().unwrap_or_default().to_string()))
            .filter(callbacks::claim_expires_at.gt(now));
    }
    if let Some(state) = filter.due {
        use crate::deadlines::DeadlineState as D;
        // one query shape for every state: absent conditions become bounds that hold
        let far_past = chrono::DateTime::<Utc>::UNIX_EPOCH.naive_utc();
        let far_future = far_past + chrono::Duration::days(365 * 1000);
        let (mut due_before, mut due_after) = (far_future, far_past);
        let (mut yellow_by, mut yellow_after) = (far_future, far_past);
        match state {
            D::Red => due_before = now + chrono::Duration::microseconds(1),
            D::Yellow => {
                yellow_by = now;
                due_after = now;
            }
            D::OnTrack => yellow_after = now,
        }
        let in_state = ticket_deadlines::table
            .filter(ticket_deadlines::step.eq("callback"))
            .filter(ticket_deadlines::completed_at.is_null())
            .filter(ticket_deadlines::due_at.lt(due_before))
            .filter(ticket_deadlines::due_at.gt(due_after))
            .filter(ticket_deadlines::yellow_at.le(yellow_by))
            .filter(ticket_deadlines::yellow_at.gt(yellow_after))
            .select(ticket_deadlines::ticket_id);
        q = q.filter(callbacks::ticket_id.eq_any(in_state));
    }
    // keyset: (the ticket's next due time, callback id); a replied ticket's next due time is
    // its callback deadline
    if let Some((due, id)) = page.after_time_and_id()? {
        q = q.filter(
            tickets::next_due_at.gt(due).or(tickets::next_due_at
                .eq(due)
                .and(callbacks::id.gt(id.to_string()))),
        );
    }
    let rows: Vec<QueueRow> = q
        .order((tickets::next_due_at.asc(), callbacks::id.asc()))
        .limit(page.fetch_limit())
        .load(conn)?;
    let keys: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.0.id.clone(), r.0.ticket_id.clone()))
        .collect();
    let next_due: Vec<(String, Option<NaiveDateTime>)> = tickets::table
        .filter(tickets::id.eq_any(keys.iter().map(|k| k.1.clone())))
        .select((tickets::id, tickets::next_due_at))
        .load(conn)?;
    let items = views(conn, rows, now)?;
    Ok(Page::from_rows(items, &page, |c| {
        let due = next_due
            .iter()
            .find(|(t, _)| *t == c.ticket_id.0)
            .and_then(|(_, d)| *d)
            .map(crate::pagination::time_key)
            .unwrap_or_default();
        vec![due, c.id.clone()]
    }))
}

fn load_callback(conn: &mut DbConnection, id: &str) -> Result<CallbackRow, AppError> {
    callbacks::table
        .find(id)
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::NotFound(format!("no callback with id {id}")))
}

/// Locks the callback's ticket and reads both (the ticket as the viewer may see it).
fn lock(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &str,
) -> Result<(CallbackRow, TicketRow), AppError> {
    let ticket_id = load_callback(conn, id)?.ticket_id;
    db::lock_tickets(conn, &[ticket_id.as_str()])?;
    let (row, _) = super::load_visible(conn, viewer, &TicketId(ticket_id))
        .map_err(|_| AppError::NotFound(format!("no callback with id {id}")))?;
    Ok((load_callback(conn, id)?, row))
}

fn one(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> Result<Callback, AppError> {
    let row: QueueRow = callbacks::table
        .inner_join(tickets::table)
        .filter(callbacks::id.eq(id))
        .select((
            callbacks::all_columns,
            tickets::number,
            tickets::title,
            tickets::lead_department_id,
            tickets::category_id,
        ))
        .first(conn)?;
    Ok(views(conn, vec![row], now)?.remove(0))
}

fn still_pending(c: &CallbackRow) -> Result<(), AppError> {
    if c.state != CallbackState::Pending {
        return Err(AppError::conflict(
            "callback_finished",
            format!("this callback has ended ({})", c.state),
        ));
    }
    Ok(())
}

/// Claims a callback for the calling operator: one holder at a time; an expired claim may be
/// taken over; the holder may renew it.
pub fn claim(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &str,
    now: NaiveDateTime,
) -> Result<Callback, AppError> {
    hotline_only(viewer)?;
    let me = viewer.user_id().unwrap_or_default().to_string();
    db::write_tx(conn, |conn| {
        let (c, mut ticket) = lock(conn, viewer, id)?;
        still_pending(&c)?;
        if let (Some(holder), Some(until)) = (&c.claimed_by, c.claim_expires_at) {
            if *holder != me && until > now {
                return Err(AppError::conflict(
                    "callback_claimed",
                    format!(
                        "another operator holds this callback until {} UTC",
                        until.format("%Y-%m-%d %H:%M")
                    ),
                ));
            }
        }
        let until = now + viewer.followup.claim;
        set_claim(conn, id, &me, until)?;
        let payload = json!({"callback_id": id, "operator_id": me, "until": utc(until),
            "citizen_ticket_id": c.citizen_ticket_id});
        super::record_event(conn, &mut ticket, viewer, "claim_callback", payload, now)?;
        one(conn, id, now)
    })
}

fn set_claim(
    conn: &mut DbConnection,
    id: &str,
    holder: &str,
    until: NaiveDateTime,
) -> Result<(), AppError> {
    diesel::update(callbacks::table.find(id))
        .set((
            callbacks::claimed_by.eq(Some(holder)),
            callbacks::claim_expires_at.eq(Some(until)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A supervisor gives a callback to another operator.
pub fn reassign(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &str,
    input: ReassignInput,
    now: NaiveDateTime,
) -> Result<Callback, AppError> {
    if !viewer.actor.roles.contains(Role::Supervisor) && !viewer.actor.roles.contains(Role::Admin) {
        return Err(AppError::Forbidden(
            "only supervisors reassign callbacks".into(),
        ));
    }
    db::write_tx(conn, |conn| {
        let (c, mut ticket) = lock(conn, viewer, id)?;
        still_pending(&c)?;
        let target: Option<(String, bool)> = users::table
            .find(&input.operator_id)
            .select((users::roles, users::active))
            .first(conn)
            .optional()?;
        let front_desk = target.is_some_and(|(roles, active)| {
            let roles = crate::auth::RoleSet::from_db(&roles);
            active
                && [Role::Operator, Role::Dispatcher, Role::Supervisor]
                    .iter()
                    .any(|r| roles.contains(*r))
        });
        if !front_desk {
            return Err(AppError::validation(
                "operator_id: an active operator, dispatcher or supervisor",
            ));
        }
        let until = now + viewer.followup.claim;
        set_claim(conn, id, &input.operator_id, until)?;
        let payload = json!({"callback_id": id, "operator_id": input.operator_id,
            "from_operator_id": c.claimed_by, "until": utc(until)});
        super::record_event(conn, &mut ticket, viewer, "reassign_callback", payload, now)?;
        one(conn, id, now)
    })
}

fn check_times(
    input: &AttemptInput,
    now: NaiveDateTime,
) -> Result<(NaiveDateTime, NaiveDateTime), AppError> {
    let started = input.started_at.map(|t| t.naive_utc()).unwrap_or(now);
    let ended = input.ended_at.map(|t| t.naive_utc()).unwrap_or(now);
    if ended < started {
        return Err(AppError::validation("ended_at: before started_at"));
    }
    if ended > now + chrono::Duration::minutes(5) {
        return Err(AppError::validation("ended_at: in the future"));
    }
    if (ended - started) > chrono::Duration::hours(4) {
        return Err(AppError::validation(
            "ended_at: a call of more than 4 hours",
        ));
    }
    Ok((started, ended))
}

fn check_comment(comment: &Option<String>) -> Result<Option<String>, AppError> {
    match comment.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => {
            validate::text_ok(c, 1000)
                .map_err(|e| AppError::validation(format!("comment: {e}")))?;
            Ok(Some(c.to_string()))
        }
    }
}

/// Records one attempt by the claim's holder; a reached citizen's verdict ends their callback,
/// as do too many failed attempts; when no callback of the round is pending, the ticket is
/// concluded. Answers the ticket's callbacks and attempts.
pub fn attempt(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &str,
    input: AttemptInput,
    now: NaiveDateTime,
) -> Result<TicketCallbacks, AppError> {
    hotline_only(viewer)?;
    let (started, ended) = check_times(&input, now)?;
    let comment = check_comment(&input.comment)?;
    let reached = input.outcome == CallOutcome::Reached;
    match (reached, input.satisfaction, input.resolved) {
        (true, Some(_), Some(_)) | (false, None, None) => {}
        (true, _, _) => {
            return Err(AppError::validation(
                "satisfaction, resolved: required when the citizen was reached",
            ))
        }
        (false, _, _) => {
            return Err(AppError::validation(
                "satisfaction, resolved: only when the citizen was reached",
            ))
        }
    }
    let me = viewer.user_id().unwrap_or_default().to_string();
    db::write_tx(conn, |conn| {
        let (c, ticket) = lock(conn, viewer, id)?;
        still_pending(&c)?;
        let holds = c.claimed_by.as_deref() == Some(me.as_str())
            && c.claim_expires_at.is_some_and(|t| t > now);
        if !holds {
            return Err(AppError::conflict(
                "claim_required",
                "claim the callback first (POST /api/v1/callbacks/{id}/claim)",
            ));
        }
        let attempt = AttemptRow {
            id: db::new_id(),
            callback_id: c.id.clone(),
            ticket_id: c.ticket_id.clone(),
            operator_id: Some(me.clone()),
            api_client_id: None,
            channel: input.channel,
            outcome: input.outcome,
            satisfaction: input.satisfaction,
            resolved: input.resolved,
            comment,
            started_at: started,
            ended_at: ended,
            created_at: now,
        };
        record_attempt(conn, viewer, c, ticket, attempt, now)
    })
}

/// Stores an attempt, ends the callback when it should, records the event, concludes the ticket
/// when the round is over.
fn record_attempt(
    conn: &mut DbConnection,
    viewer: &Viewer,
    c: CallbackRow,
    mut ticket: TicketRow,
    attempt: AttemptRow,
    now: NaiveDateTime,
) -> Result<TicketCallbacks, AppError> {
    diesel::insert_into(callback_attempts::table)
        .values(&attempt)
        .execute(conn)?;
    let reached = attempt.outcome == CallOutcome::Reached;
    let failed = c.failed_attempts + i32::from(!reached);
    let state = if reached {
        CallbackState::Done
    } else if failed >= viewer.followup.max_failed_attempts {
        CallbackState::Unreachable
    } else {
        CallbackState::Pending
    };
    let ended = state != CallbackState::Pending;
    diesel::update(callbacks::table.find(&c.id))
        .set((
            callbacks::state.eq(state),
            callbacks::failed_attempts.eq(failed),
            callbacks::channel.eq(reached.then_some(attempt.channel)),
            callbacks::satisfaction.eq(attempt.satisfaction),
            callbacks::resolved.eq(attempt.resolved),
            callbacks::completed_at.eq(ended.then_some(now)),
        ))
        .execute(conn)?;
    let payload = json!({
        "callback_id": c.id, "citizen_ticket_id": c.citizen_ticket_id,
        "attempt_id": attempt.id, "channel": attempt.channel, "outcome": attempt.outcome,
        "satisfaction": attempt.satisfaction, "resolved": attempt.resolved,
        "comment": attempt.comment, "started_at": utc(attempt.started_at),
        "ended_at": utc(attempt.ended_at), "failed_attempts": failed, "callback_state": state,
    });
    super::record_event(conn, &mut ticket, viewer, "callback_attempt", payload, now)?;
    let ticket_id = ticket.id.clone();
    if ended {
        conclude_ticket(conn, viewer, ticket, now)?;
    }
    of_ticket_unchecked(conn, &ticket_id, now)
}

/// The mini-program gateway submits the citizen's own verdict on their replied ticket, once.
pub fn rate(
    conn: &mut DbConnection,
    viewer: &Viewer,
    ticket: &TicketId,
    open_id: &str,
    input: RatingInput,
    now: NaiveDateTime,
) -> Result<TicketCallbacks, AppError> {
    let client = viewer
        .api_client_id()
        .ok_or_else(|| AppError::Forbidden("ratings come from the mini-program gateway".into()))?
        .to_string();
    let comment = check_comment(&input.comment)?;
    let not_found = || AppError::NotFound(format!("no ticket {} of this citizen", ticket.0));
    db::write_tx(conn, |conn| {
        let own: TicketRow = tickets::table
            .find(ticket.as_str())
            .first(conn)
            .optional()?
            .filter(|t: &TicketRow| t.citizen_open_id.as_deref() == Some(open_id))
            .ok_or_else(not_found)?;
        // a ticket merged into another is followed up on the surviving one
        let handled_on = own.merged_into.clone().unwrap_or_else(|| own.id.clone());
        db::lock_tickets(conn, &[handled_on.as_str()])?;
        let handling: TicketRow = tickets::table.find(&handled_on).first(conn)?;
        // this citizen's callback of the latest reply
        let latest: Option<CallbackRow> = callbacks::table
            .filter(callbacks::ticket_id.eq(&handled_on))
            .filter(callbacks::citizen_ticket_id.eq(&own.id))
            .order(callbacks::reply_seq.desc())
            .first(conn)
            .optional()?;
        let c = match latest {
            Some(c) if c.state == CallbackState::Pending && handling.status == Status::Replied => c,
            Some(c)
                if c.state != CallbackState::Pending && handling.status != Status::InProgress =>
            {
                return Err(AppError::conflict(
                    "already_rated",
                    "this citizen's verdict on the reply is already recorded",
                ))
            }
            _ => {
                return Err(AppError::conflict(
                    "not_replied",
                    format!(
                        "the ticket is {}; it can be rated once replied",
                        handling.status
                    ),
                ))
            }
        };
        let attempt = AttemptRow {
            id: db::new_id(),
            callback_id: c.id.clone(),
            ticket_id: handled_on.clone(),
            operator_id: None,
            api_client_id: Some(client.clone()),
            channel: CallbackChannel::Miniprogram,
            outcome: CallOutcome::Reached,
            satisfaction: Some(input.satisfaction),
            resolved: Some(input.resolved),
            comment,
            started_at: now,
            ended_at: now,
            created_at: now,
        };
        record_attempt(conn, viewer, c, handling, attempt, now)
    })
}

/// A ticket's callbacks and attempts (hotline staff, or a supervisor).
pub fn of_ticket(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &TicketId,
) -> Result<TicketCallbacks, AppError> {
    hotline_only(viewer)?;
    super::load_visible(conn, viewer, id)?;
    of_ticket_unchecked(conn, id.as_str(), viewer.now)
}

fn of_ticket_unchecked(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
) -> Result<TicketCallbacks, AppError> {
    let rows: Vec<QueueRow> = callbacks::table
        .inner_join(tickets::table)
        .filter(callbacks::ticket_id.eq(id))
        .order(callbacks::created_at.asc())
        .select((
            callbacks::all_columns,
            tickets::number,
            tickets::title,
            tickets::lead_department_id,
            tickets::category_id,
        ))
        .load(conn)?;
    let attempts: Vec<AttemptRow> = callback_attempts::table
        .filter(callback_attempts::ticket_id.eq(id))
        .order((
            callback_attempts::started_at.asc(),
            callback_attempts::id.asc(),
        ))
        .load(conn)?;
    Ok(TicketCallbacks {
        callbacks: views(conn, rows, now)?,
        attempts: attempts.into_iter().map(Attempt::from).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cb(state: CallbackState, s: Option<Satisfaction>, resolved: Option<bool>) -> CallbackRow {
        CallbackRow {
            id: "c".into(),
            ticket_id: "t".into(),
            citizen_ticket_id: "t".into(),
            citizen_key: "k".into(),
            reply_seq: 1,
            state,
            claimed_by: None,
            claim_expires_at: None,
            failed_attempts: 0,
            channel: None,
            satisfaction: s,
            resolved,
            created_at: NaiveDateTime::default(),
            completed_at: None,
        }
    }

    #[test]
    fn the_round_concludes_on_its_worst_verdict() {
        use CallbackState::*;
        use Satisfaction::*;
        assert_eq!(conclude(&[]), None);
        assert_eq!(
            conclude(&[
                cb(Done, Some(Satisfied), Some(true)),
                cb(Pending, None, None)
            ]),
            None
        );
        let r = |v: &[CallbackRow]| conclude(v).map(|c| c.result);
        assert_eq!(
            r(&[cb(Done, Some(Satisfied), Some(true))]),
            Some(CallbackResult::Satisfied)
        );
        assert_eq!(
            r(&[
                cb(Done, Some(Satisfied), Some(true)),
                cb(Done, Some(BasicallySatisfied), Some(true))
            ]),
            Some(CallbackResult::BasicallySatisfied)
        );
        assert_eq!(
            r(&[cb(Done, Some(Satisfied), Some(false))]),
            Some(CallbackResult::Dissatisfied),
            "unresolved goes back"
        );
        assert_eq!(
            r(&[
                cb(Done, Some(Satisfied), Some(true)),
                cb(Done, Some(Dissatisfied), Some(true))
            ]),
            Some(CallbackResult::Dissatisfied)
        );
        assert_eq!(
            r(&[cb(Unreachable, None, None)]),
            Some(CallbackResult::Unreachable)
        );
        assert_eq!(
            r(&[
                cb(Unreachable, None, None),
                cb(Done, Some(Satisfied), Some(true))
            ]),
            Some(CallbackResult::Satisfied),
            "the reached citizens decide"
        );
    }
}
