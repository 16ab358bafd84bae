//! Transitions: one command on one ticket, decided by the state machine (`state`), applied,
//! and appended to the event log, in one transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::{json, Value};

use super::model::*;
use super::state::{self, Action, Refusal};
use super::*;
use crate::auth::Role;
use crate::db::schema::{ticket_co_handlers, tickets};
use crate::db::{self, DbConnection};
use crate::error::{AppError, WhenMissing};
use crate::ids::{DepartmentId, TicketId};
use crate::org;
use crate::routing::{self};
use crate::vocab::{CallbackResult, ExtensionState, Kind, Urgency};

fn refusal(r: Refusal, id: &str, action: Action) -> AppError {
    match r {
        Refusal::NotVisible => not_found(id),
        Refusal::Forbidden(m) => AppError::Forbidden(m),
        Refusal::Illegal { status, allowed } => {
            let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
            AppError::conflict(
                "illegal_transition",
                format!(
                    "'{}' is not possible while the ticket is {status}; allowed now: {}",
                    action.as_str(),
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            )
        }
    }
}

fn required<'a, T>(value: &'a Option<T>, field: &str, action: Action) -> Result<&'a T, AppError> {
    value
        .as_ref()
        .ok_or_else(|| AppError::validation(format!("{field}: required for {}", action.as_str())))
}

fn text(
    value: &Option<String>,
    field: &str,
    action: Action,
    max: usize,
) -> Result<String, AppError> {
    let v = required(value, field, action)?.trim().to_string();
    if v.is_empty() || v.chars().count() > max {
        return Err(AppError::validation(format!("{field}: 1-{max} characters")));
    }
    Ok(v)
}

/// A department named by its id or by its code (`WATER-SUPPLY`), which must be active.
fn active_department(
    conn: &mut DbConnection,
    field: &str,
    id: &DepartmentId,
) -> Result<org::DepartmentRow, AppError> {
    let row = if uuid::Uuid::parse_str(id.as_str()).is_ok() {
        org::referenced(conn, field, id)?
    } else {
        org::find_by_code(conn, id.as_str())?.ok_or_else(|| {
            AppError::validation(format!("{field}: no department with id or code '{id}'"))
        })?
    };
    if !row.active {
        return Err(AppError::validation(format!(
            "{field}: the department '{}' is inactive",
            row.name
        )));
    }
    Ok(row)
}

fn set_co_handlers(
    conn: &mut DbConnection,
    ticket: &str,
    lead: &str,
    ids: &[DepartmentId],
) -> Result<Vec<CoHandler>, AppError> {
    diesel::delete(ticket_co_handlers::table.filter(ticket_co_handlers::ticket_id.eq(ticket)))
        .execute(conn)?;
    let mut added: Vec<CoHandler> = Vec::new();
    for id in ids {
        if id.as_str() == lead || added.iter().any(|a| a.department_id == id.0) {
            continue;
        }
        let dept = active_department(conn, "co_department_ids", id)?;
        db::Cached(diesel::insert_into(ticket_co_handlers::table).values((
            ticket_co_handlers::ticket_id.eq(ticket),
            ticket_co_handlers::department_id.eq(&dept.id),
            ticket_co_handlers::department_path.eq(&dept.path),
        )))
        .execute(conn)?;
        added.push(CoHandler {
            department_id: dept.id,
            department_path: dept.path,
        });
    }
    Ok(added)
}

/// Takes an action on a ticket: checks the expected version (412 when stale), asks the state
/// machine, applies the effects, bumps the version and appends the event — in one transaction.
pub fn act(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &TicketId,
    action: Action,
    body: ActionBody,
    expected_version: Option<i32>,
    now: NaiveDateTime,
) -> Result<Ticket, AppError> {
    db::write_tx(conn, |conn| {
        // serialise with concurrent commands on the same tickets (a merge also locks its target)
        let into = body.into.as_ref().filter(|_| action == Action::Merge);
        let (row, co) = match into {
            // one ticket: locked as it is read
            None => load_visible_locked(conn, viewer, id)?,
            Some(into) => {
                db::lock_tickets(conn, &[id.as_str(), into.as_str()])?;
                load_visible(conn, viewer, id)?
            }
        };
        if let Some(expected) = expected_version {
            if expected != row.version {
                return Err(AppError::Stale(format!(
                        "the ticket changed since you read it (your version {expected}, now {}); reload and retry",
                        row.version
                    )));
            }
        }
        let (row, _) = apply(conn, viewer, row, co, action, body, now)?;
        view_one(conn, &row, viewer)
    })
}

/// One command as the effect functions see it.
struct Command<'a> {
    viewer: &'a Viewer,
    action: Action,
    body: &'a ActionBody,
    now: NaiveDateTime,
}

/// What an action's effects add to its event, besides the row's changes.
#[derive(Default)]
struct Effects {
    payload: serde_json::Map<String, Value>,
    public: bool,
    /// A merge: the surviving ticket, which records what was merged into it.
    survivor: Option<TicketRow>,
}

/// The effects of each action on the row (the state machine has already said yes).
/// Answers the updated row and its co-handlers.
pub(super) fn apply(
    conn: &mut DbConnection,
    viewer: &Viewer,
    mut row: TicketRow,
    mut co: Vec<CoHandler>,
    action: Action,
    body: ActionBody,
    now: NaiveDateTime,
) -> Result<(TicketRow, Vec<CoHandler>), AppError> {
    let f = facts(&row, &co);
    let next = state::decide(&viewer.actor, &f, action).map_err(|r| refusal(r, &row.id, action))?;
    let before = row.clone();
    let from = row.status;
    let cmd = Command {
        viewer,
        action,
        body: &body,
        now,
    };
    let mut fx = Effects::default();
    match action {
        Action::Dispatch | Action::ApproveReturn | Action::Forward => {
            routing_effects(conn, &cmd, &mut row, &mut co, &mut fx)?
        }
        Action::DirectAnswer
        | Action::Sign
        | Action::Assign
        | Action::Contribute
        | Action::Return
        | Action::RejectReturn
        | Action::RequestExtension
        | Action::ApproveExtension
        | Action::RejectExtension
        | Action::Reply => handling_effects(conn, &cmd, &mut row, &mut fx)?,
        Action::Redo | Action::Close | Action::Merge | Action::Cancel | Action::Reopen => {
            closing_effects(conn, &cmd, &mut row, &mut fx)?
        }
        Action::Note | Action::PublicNote => notes_effects(&cmd, &mut fx)?,
    }
    let Effects {
        mut payload,
        public,
        survivor,
    } = fx;
    if let Some(reason) = body.reason.as_deref().filter(|r| !r.trim().is_empty()) {
        payload.entry("reason").or_insert(json!(reason.trim()));
    }
    row.status = next;
    row.version += 1;
    row.updated_at = now;
    // late steps are recorded in the event that completes them: never forgiven, always replayable;
    // the deadlines change first, so that the one update of the ticket carries its soonest due
    // time (a second update for it wrote a second row version and, next_due_at being indexed,
    // another entry in every index of the ticket)
    let late = deadline_effects(conn, viewer, &mut row, action, now)?;
    // only the columns the command changed (the version and time always do)
    let changed = db::Cached(
        diesel::update(
            tickets::table
                .find(&row.id)
                .filter(tickets::version.eq(before.version)),
        )
        .set(TicketChanges::between(&before, &row)),
    )
    .execute(conn)?;
    if changed == 0 {
        return Err(AppError::Stale(
            "the ticket changed meanwhile; reload and retry".into(),
        ));
    }
    if !late.is_empty() {
        let late: Vec<Value> = late
            .into_iter()
            .map(|(step, minutes)| json!({"step": step, "minutes_late": minutes}))
            .collect();
        payload.insert("late".into(), Value::Array(late));
    }
    let happened = Happened {
        action: action.as_str(),
        from: Some(from),
        payload: Value::Object(payload),
        public,
    };
    insert_event(conn, &row, viewer, happened, now)?;
    if let Some(mut target) = survivor {
        // the surviving ticket records what was merged into it (the merged citizens stay reachable)
        target.version += 1;
        target.updated_at = now;
        diesel::update(tickets::table.find(&target.id))
            .set((
                tickets::version.eq(target.version),
                tickets::updated_at.eq(now),
            ))
            .execute(conn)?;
        let status = target.status;
        let payload = json!({"merged": row.id, "merged_number": row.number});
        let merged_in = Happened {
            action: "merged_in",
            from: Some(status),
            payload,
            public: false,
        };
        insert_event(conn, &target, viewer, merged_in, now)?;
    }
    if matches!(action, Action::Reply | Action::DirectAnswer) {
        // the callback to each citizen, or the close of a ticket that needs none
        return super::callbacks::open(conn, viewer, row, co, now);
    }
    Ok((row, co))
}

/// Where the ticket goes: dispatch, approve a return (re-dispatch), forward down.
fn routing_effects(
    conn: &mut DbConnection,
    cmd: &Command<'_>,
    row: &mut TicketRow,
    co: &mut Vec<CoHandler>,
    fx: &mut Effects,
) -> Result<(), AppError> {
    match cmd.action {
        Action::Dispatch | Action::ApproveReturn => {
            let (department, co_ids) = match &cmd.body.department_id {
                Some(d) => (
                    d.clone(),
                    cmd.body.co_department_ids.clone().unwrap_or_default(),
                ),
                None if cmd.action == Action::Dispatch => {
                    let routed = routing::route(conn, &routing_request(row))?;
                    let first = routed
                        .candidates
                        .into_iter()
                        .find(|c| c.department.is_some())
                        .ok_or_else(|| {
                            AppError::validation(
                                "department_id: routing found no department; choose one",
                            )
                        })?;
                    let dept = first
                        .department
                        .map(|d| d.id)
                        .unwrap_or_else(|| DepartmentId(String::new()));
                    fx.payload.insert("routing".into(), json!(first.reason));
                    (dept, first.co_handlers.into_iter().map(|d| d.id).collect())
                }
                None => {
                    return Err(AppError::validation(
                        "department_id: required to re-dispatch",
                    ))
                }
            };
            if cmd.action == Action::ApproveReturn
                && row.lead_department_id.as_deref() == Some(department.as_str())
            {
                return Err(AppError::validation("department_id: re-dispatch to another department than the one that returned it"));
            }
            let dept = active_department(conn, "department_id", &department)?;
            *co = set_co_handlers(conn, &row.id, &dept.id, &co_ids)?;
            let added: Vec<&String> = co.iter().map(|c| &c.department_id).collect();
            fx.payload.insert("department_id".into(), json!(dept.id));
            fx.payload.insert("co_department_ids".into(), json!(added));
            row.lead_department_id = Some(dept.id);
            row.lead_department_path = Some(dept.path);
            row.assignee_id = None;
            row.status_before_return = None;
            row.dispatched_at = Some(cmd.now);
            row.signed_at = None;
        }
        Action::Forward => {
            let target = required(&cmd.body.department_id, "department_id", cmd.action)?.clone();
            let dept = active_department(conn, "department_id", &target)?;
            let own = row.lead_department_path.clone().unwrap_or_default();
            if !(dept.path.starts_with(&own) && dept.path != own) {
                return Err(AppError::validation(
                    "department_id: forward only down to a sub-department of the lead department",
                ));
            }
            fx.payload.insert("department_id".into(), json!(dept.id));
            fx.payload
                .insert("from_department_id".into(), json!(row.lead_department_id));
            row.lead_department_id = Some(dept.id);
            row.lead_department_path = Some(dept.path);
            row.assignee_id = None;
            row.dispatched_at = Some(cmd.now);
            row.signed_at = None;
        }
        _ => {}
    }
    Ok(())
}

/// The department's work and the hotline's direct answer: sign, assign, contribute, return,
/// reject a return, extensions, reply.
fn handling_effects(
    conn: &mut DbConnection,
    cmd: &Command<'_>,
    row: &mut TicketRow,
    fx: &mut Effects,
) -> Result<(), AppError> {
    match cmd.action {
        Action::DirectAnswer => {
            if row.kind != Kind::Consultation {
                return Err(AppError::validation(
                    "direct answers are for consultations; dispatch the ticket instead",
                ));
            }
            let answer = text(&cmd.body.reply, "reply", cmd.action, 4000)?;
            fx.payload.insert("reply".into(), json!(answer));
            row.reply = Some(answer);
            row.replied_at = Some(cmd.now);
            fx.public = true;
        }
        Action::Sign => {
            row.signed_at = Some(cmd.now);
        }
        Action::Assign => {
            let assignee = required(&cmd.body.assignee_id, "assignee_id", cmd.action)?.clone();
            let user = crate::accounts::users::get(conn, &assignee)
                .when_missing(|| AppError::validation("assignee_id: no such user"))?;
            if user.department_id.as_ref().map(|d| d.as_str()) != row.lead_department_id.as_deref()
                || !user.active
            {
                return Err(AppError::validation(
                    "assignee_id: assign to an active member of the lead department",
                ));
            }
            let is_admin = cmd.viewer.actor.roles.contains(Role::DepartmentAdmin);
            if !is_admin && cmd.viewer.user_id() != Some(assignee.as_str()) {
                return Err(AppError::Forbidden(
                    "department staff may assign tickets only to themselves".into(),
                ));
            }
            fx.payload.insert("assignee_id".into(), json!(assignee.0));
            row.assignee_id = Some(assignee.0);
        }
        Action::Contribute => {
            let note = text(&cmd.body.text, "text", cmd.action, 4000)?;
            fx.payload.insert(
                "department_id".into(),
                json!(cmd.viewer.actor.department_id),
            );
            fx.payload.insert("text".into(), json!(note));
        }
        Action::Return => {
            if let Some(closed) = deadlines::return_window_closed(conn, &row.id, cmd.now)? {
                return Err(AppError::conflict(
                    "return_window_closed",
                    format!(
                        "a ticket can be returned until {} UTC; handle it, or ask the dispatcher",
                        closed.format("%Y-%m-%d %H:%M")
                    ),
                ));
            }
            let reason = text(&cmd.body.reason, "reason", cmd.action, 1000)?;
            fx.payload.insert("reason".into(), json!(reason));
            fx.payload
                .insert("department_id".into(), json!(row.lead_department_id));
            row.status_before_return = Some(row.status);
        }
        Action::RejectReturn => {
            let reason = text(&cmd.body.reason, "reason", cmd.action, 1000)?;
            fx.payload.insert("reason".into(), json!(reason));
            row.status_before_return = None;
        }
        Action::RequestExtension => {
            let days = *required(&cmd.body.days, "days", cmd.action)?;
            let max = cmd
                .viewer
                .rules
                .policy_in_force(conn)?
                .max_extension_working_days;
            if days < 1 || u32::try_from(days).is_ok_and(|d| d > max) {
                return Err(AppError::validation(format!("days: 1-{max} working days")));
            }
            if let Some(due) = deadlines::handle_due(conn, &row.id)? {
                if cmd.now >= due {
                    return Err(AppError::conflict(
                        "extension_too_late",
                        format!(
                            "an extension is asked before the handling deadline ({} UTC); it has passed",
                            due.format("%Y-%m-%d %H:%M")
                        ),
                    ));
                }
            }
            if row.urgency != Urgency::Normal {
                return Err(AppError::validation(
                    "urgent and critical tickets cannot be extended",
                ));
            }
            let reason = text(&cmd.body.reason, "reason", cmd.action, 1000)?;
            fx.payload.insert("days".into(), json!(days));
            fx.payload.insert("reason".into(), json!(reason));
            row.extension_state = Some(ExtensionState::Requested);
            row.extension_days = Some(days);
        }
        Action::ApproveExtension | Action::RejectExtension => {
            if let Some(reason) = cmd.body.reason.as_deref().filter(|r| !r.trim().is_empty()) {
                fx.payload.insert("reason".into(), json!(reason.trim()));
            }
            let approved = cmd.action == Action::ApproveExtension;
            fx.payload.insert("days".into(), json!(row.extension_days));
            row.extension_state = Some(if approved {
                ExtensionState::Approved
            } else {
                ExtensionState::Rejected
            });
        }
        Action::Reply => {
            let reply = text(&cmd.body.reply, "reply", cmd.action, 4000)?;
            fx.payload.insert("reply".into(), json!(reply));
            row.reply = Some(reply);
            row.replied_at = Some(cmd.now);
            fx.public = true;
        }
        _ => {}
    }
    Ok(())
}

/// The end of a ticket: redo after the callback, close, merge into another, cancel.
fn closing_effects(
    conn: &mut DbConnection,
    cmd: &Command<'_>,
    row: &mut TicketRow,
    fx: &mut Effects,
) -> Result<(), AppError> {
    match cmd.action {
        Action::Redo | Action::Close => {
            let reason = text(&cmd.body.reason, "reason", cmd.action, 1000)?;
            fx.payload.insert("reason".into(), json!(reason));
            // the callbacks' verdict, or a supervisor's decision (the open callbacks end)
            let conclusion = match cmd.body.conclusion {
                Some(c) => c,
                None => {
                    super::callbacks::cancel_pending(conn, &row.id, cmd.now)?;
                    Conclusion {
                        result: if cmd.action == Action::Close {
                            CallbackResult::ClosedBySupervisor
                        } else {
                            CallbackResult::Dissatisfied
                        },
                        satisfaction: None,
                        resolved: None,
                    }
                }
            };
            fx.payload
                .insert("callback_result".into(), json!(conclusion.result));
            fx.payload
                .insert("satisfaction".into(), json!(conclusion.satisfaction));
            fx.payload
                .insert("resolved".into(), json!(conclusion.resolved));
            row.callback_result = Some(conclusion.result);
            row.satisfaction = conclusion.satisfaction;
            row.resolved = conclusion.resolved;
            if cmd.action == Action::Close {
                row.closed_at = Some(cmd.now);
            } else {
                row.replied_at = None;
                row.redo_count += 1;
            }
        }
        Action::Reopen => {
            let reason = text(&cmd.body.reason, "reason", cmd.action, 1000)?;
            let closed = row.closed_at.unwrap_or(cmd.now);
            let window = cmd.viewer.followup.reopen_window;
            if cmd.now > closed + window {
                return Err(AppError::conflict(
                    "reopen_window_passed",
                    format!(
                        "a ticket can be reopened within {} days of closing (closed {} UTC); take a new ticket",
                        window.num_days(),
                        closed.format("%Y-%m-%d %H:%M")
                    ),
                ));
            }
            if row.lead_department_id.is_none() {
                return Err(AppError::conflict(
                    "no_department",
                    "the ticket was answered by the hotline itself; take a new ticket",
                ));
            }
            fx.payload.insert("reason".into(), json!(reason));
            fx.payload
                .insert("previous_result".into(), json!(row.callback_result));
            fx.payload
                .insert("department_id".into(), json!(row.lead_department_id));
            row.reopen_count += 1;
            row.closed_at = None;
            row.replied_at = None;
            row.callback_result = None;
            row.satisfaction = None;
            row.resolved = None;
        }
        Action::Merge => {
            let into = required(&cmd.body.into, "into", cmd.action)?.clone();
            if into.as_str() == row.id {
                return Err(AppError::validation(
                    "into: a ticket cannot be merged into itself",
                ));
            }
            let (target, _) = load_visible(conn, cmd.viewer, &into)
                .when_missing(|| AppError::validation("into: no such ticket"))?;
            let target_status = target.status;
            if !target_status.is_open() {
                return Err(AppError::validation(format!(
                    "into: the surviving ticket is {target_status}"
                )));
            }
            fx.payload.insert("into".into(), json!(target.id));
            fx.payload
                .insert("into_number".into(), json!(target.number));
            row.merged_into = Some(target.id.clone());
            row.closed_at = Some(cmd.now);
            // a replied ticket's callbacks end with it; its citizen is called back on the
            // surviving ticket's next reply
            super::callbacks::cancel_pending(conn, &row.id, cmd.now)?;
            fx.survivor = Some(target);
        }
        Action::Cancel => {
            let reason = text(&cmd.body.reason, "reason", cmd.action, 1000)?;
            fx.payload.insert("reason".into(), json!(reason));
            row.closed_at = Some(cmd.now);
        }
        _ => {}
    }
    Ok(())
}

/// Notes, internal or public.
fn notes_effects(cmd: &Command<'_>, fx: &mut Effects) -> Result<(), AppError> {
    match cmd.action {
        Action::Note | Action::PublicNote => {
            let note = text(&cmd.body.text, "text", cmd.action, 4000)?;
            fx.payload.insert("text".into(), json!(note));
            fx.public = cmd.action == Action::PublicNote;
        }
        _ => {}
    }
    Ok(())
}

/// What an action does to the ticket's deadlines: completes the steps it ends (keeping how late
/// they were), starts the ones it begins with the limits in force now, pauses the department's
/// clock for a return under review and resumes it with the paused time added, and moves the
/// handling deadline by an approved extension.
fn deadline_effects(
    conn: &mut DbConnection,
    viewer: &Viewer,
    row: &mut TicketRow,
    action: Action,
    now: NaiveDateTime,
) -> Result<Vec<(String, i64)>, AppError> {
    use crate::deadlines::Step as S;
    const ALL: [S; 5] = [
        S::Dispatch,
        S::Sign,
        S::ReturnWindow,
        S::Handle,
        S::Callback,
    ];
    let rules = &viewer.rules;
    let id = row.id.as_str();
    // praise and anonymous tickets need no callback (docs/domain.md §4)
    let callback: &[S] = if row.kind == Kind::Praise || row.anonymous {
        &[]
    } else {
        &[S::Callback]
    };
    let mut late = Vec::new();
    match action {
        Action::Dispatch | Action::ApproveReturn => {
            late.extend(deadlines::complete(conn, id, &ALL, now)?);
            deadlines::start(
                conn,
                rules,
                row,
                &[S::Sign, S::ReturnWindow, S::Handle],
                now,
            )?;
        }
        Action::Forward => {
            late.extend(deadlines::complete(conn, id, &[S::Sign], now)?);
            deadlines::start(conn, rules, row, &[S::Sign], now)?;
        }
        Action::Sign => late.extend(deadlines::complete(conn, id, &[S::Sign], now)?),
        Action::Return => deadlines::pause(conn, id, now)?,
        Action::RejectReturn => deadlines::resume(conn, rules, id, now)?,
        Action::Reply => {
            late.extend(deadlines::complete(
                conn,
                id,
                &[S::Sign, S::ReturnWindow, S::Handle],
                now,
            )?);
            deadlines::start(conn, rules, row, callback, now)?;
        }
        Action::DirectAnswer => {
            late.extend(deadlines::complete(conn, id, &[S::Dispatch], now)?);
            deadlines::start(conn, rules, row, callback, now)?;
        }
        Action::Redo => {
            late.extend(deadlines::complete(conn, id, &[S::Callback], now)?);
            deadlines::start(conn, rules, row, &[S::Handle], now)?;
        }
        Action::Reopen => deadlines::start(conn, rules, row, &[S::Handle], now)?,
        Action::Close => late.extend(deadlines::complete(conn, id, &[S::Callback], now)?),
        Action::Merge | Action::Cancel => late.extend(deadlines::complete(conn, id, &ALL, now)?),
        Action::ApproveExtension => {
            let days = row.extension_days.unwrap_or(0);
            deadlines::extend_handle(conn, rules, id, u32::try_from(days).unwrap_or(0))?;
        }
        Action::Assign
        | Action::Contribute
        | Action::RequestExtension
        | Action::RejectExtension
        | Action::Note
        | Action::PublicNote => return Ok(late),
    }
    row.next_due_at = deadlines::soonest_due(conn, id)?;
    Ok(late)
}
