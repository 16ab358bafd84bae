//! Notifications: who learns of what, through a transactional outbox (docs/notifications.md).
//!
//! Every ticket event passes [`on_ticket_event`] inside the transaction that records it: the
//! messages it causes are outbox rows of that same transaction, so a crash after the commit loses
//! nothing and a rolled-back action sends nothing. A worker in each `serve` process delivers the
//! rows ([`worker`]): e-mail to departments and supervisors over SMTP ([`email`], texts from
//! [`templates`]), and signed webhooks to subscribers such as the mini-program and SMS gateways
//! ([`webhooks`]), which is how citizens are told of their ticket's progress.
//!
//! Which event causes which message is the pure function [`classify`].

pub mod digest;
pub mod email;
pub mod outbox;
pub mod templates;
pub mod webhooks;
pub mod worker;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::accounts::utc;
use crate::auth::{Role, RoleSet};
use crate::db::schema::{departments, ticket_deadlines, users};
use crate::db::DbConnection;
use crate::error::AppError;
use crate::serde_util::from_json_text;
use crate::tickets::model::TicketRow;
use crate::vocab::{Status, WebhookContact};

pub use self::outbox::NewMessage;

/// The event types webhook subscribers choose from. The `ticket.*` ones other than
/// `ticket.assigned` are the public status changes a citizen is told of.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
pub enum EventType {
    /// Taken in (登记)
    #[serde(rename = "ticket.registered")]
    #[strum(serialize = "ticket.registered")]
    TicketRegistered,
    /// Sent to the department that will handle it (first dispatch only)
    #[serde(rename = "ticket.dispatched")]
    #[strum(serialize = "ticket.dispatched")]
    TicketDispatched,
    /// Answered (办结答复)
    #[serde(rename = "ticket.replied")]
    #[strum(serialize = "ticket.replied")]
    TicketReplied,
    /// Sent back for handling again after the callback (重办)
    #[serde(rename = "ticket.reopened")]
    #[strum(serialize = "ticket.reopened")]
    TicketReopened,
    /// Closed, merged into another ticket, or cancelled (the ticket's `status` says which)
    #[serde(rename = "ticket.closed")]
    #[strum(serialize = "ticket.closed")]
    TicketClosed,
    /// A progress note the citizen may read
    #[serde(rename = "ticket.note")]
    #[strum(serialize = "ticket.note")]
    TicketNote,
    /// A department became the lead department (dispatch, forward, re-dispatch): internal
    #[serde(rename = "ticket.assigned")]
    #[strum(serialize = "ticket.assigned")]
    TicketAssigned,
    /// A step's yellow moment came (internal)
    #[serde(rename = "deadline.yellow")]
    #[strum(serialize = "deadline.yellow")]
    DeadlineYellow,
    /// A step is overdue (internal)
    #[serde(rename = "deadline.red")]
    #[strum(serialize = "deadline.red")]
    DeadlineRed,
    /// A supervisor flagged the ticket (督办; internal)
    #[serde(rename = "supervision.flagged")]
    #[strum(serialize = "supervision.flagged")]
    SupervisionFlagged,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every event type, for validation messages and the docs.
    pub fn all() -> Vec<EventType> {
        use strum::IntoEnumIterator;
        EventType::iter().collect()
    }
}

/// Who receives an e-mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The contact addresses of the ticket's lead department
    LeadDepartment,
    /// Every active supervisor with an e-mail address
    Supervisors,
}

/// The messages one ticket event causes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Notices {
    pub webhooks: Vec<EventType>,
    /// Template name and who receives it.
    pub emails: Vec<(&'static str, Audience)>,
}

/// Which messages an event causes: `action` as recorded in the event log, the status before and
/// after, and the event's payload (a warning's level).
pub fn classify(action: &str, from: Option<Status>, to: Status, payload: &Value) -> Notices {
    let mut n = Notices::default();
    match action {
        "create" => n.webhooks.push(EventType::TicketRegistered),
        "dispatch" | "forward" | "approve_return" => {
            if action == "dispatch" && from == Some(Status::Registered) {
                n.webhooks.push(EventType::TicketDispatched);
            }
            n.webhooks.push(EventType::TicketAssigned);
            n.emails.push(("ticket_assigned", Audience::LeadDepartment));
        }
        "reply" | "direct_answer" => n.webhooks.push(EventType::TicketReplied),
        "redo" | "reopen" => n.webhooks.push(EventType::TicketReopened),
        "close" | "cancel" | "merge" if !to.is_open() => n.webhooks.push(EventType::TicketClosed),
        "public_note" => n.webhooks.push(EventType::TicketNote),
        "flag" => {
            n.webhooks.push(EventType::SupervisionFlagged);
            n.emails
                .push(("supervision_flagged", Audience::LeadDepartment));
        }
        "warning" => match payload["level"].as_str() {
            Some("yellow") => {
                n.webhooks.push(EventType::DeadlineYellow);
                n.emails.push(("deadline_yellow", Audience::LeadDepartment));
            }
            Some("red") => {
                n.webhooks.push(EventType::DeadlineRed);
                n.emails.push(("deadline_red", Audience::LeadDepartment));
                n.emails.push(("deadline_red", Audience::Supervisors));
            }
            _ => {}
        },
        _ => {}
    }
    n
}

/// Writes the outbox rows a ticket event causes, in the caller's transaction. `ticket` is the
/// row after the event.
pub fn on_ticket_event(
    conn: &mut DbConnection,
    ticket: &TicketRow,
    action: &str,
    from: Option<Status>,
    payload: &Value,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let notices = classify(action, from, ticket.status, payload);
    if notices == Notices::default() {
        return Ok(());
    }
    let subscribers = webhooks::subscribers_of(conn, &notices.webhooks)?;
    if subscribers.is_empty() && notices.emails.is_empty() {
        return Ok(());
    }
    let department = lead_department(conn, ticket)?;
    let mut messages = Vec::new();
    for s in subscribers {
        let body = webhook_body(
            ticket,
            s.event,
            payload,
            department.as_ref(),
            s.contact,
            now,
        );
        messages.push(NewMessage::webhook(s.event, &s.subscription, ticket, body));
    }
    if !notices.emails.is_empty() {
        let context = email_context(conn, ticket, payload, department.as_ref())?;
        for (template, audience) in &notices.emails {
            let recipients = match audience {
                Audience::LeadDepartment => department
                    .as_ref()
                    .map(|d| d.emails.clone())
                    .unwrap_or_default(),
                Audience::Supervisors => supervisor_emails(conn)?,
            };
            let event = notices.webhooks.first().copied();
            for to in recipients {
                messages.push(NewMessage::email(
                    event.map(EventType::as_str).unwrap_or(action),
                    template,
                    &to,
                    Some(&ticket.id),
                    context.clone(),
                ));
            }
        }
    }
    outbox::insert(conn, messages, now)
}

/// The lead department's name, code and contact addresses.
#[derive(Debug, Clone)]
pub struct DepartmentContact {
    pub name: String,
    pub code: String,
    pub emails: Vec<String>,
}

fn lead_department(
    conn: &mut DbConnection,
    ticket: &TicketRow,
) -> Result<Option<DepartmentContact>, AppError> {
    let Some(id) = &ticket.lead_department_id else {
        return Ok(None);
    };
    let row: Option<(String, String, String)> = departments::table
        .find(id)
        .select((
            departments::name,
            departments::code,
            departments::contact_emails,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(name, code, emails)| DepartmentContact {
        name,
        code,
        emails: from_json_text(&emails),
    }))
}

/// Active supervisors' e-mail addresses.
pub fn supervisor_emails(conn: &mut DbConnection) -> Result<Vec<String>, AppError> {
    let rows: Vec<(String, Option<String>)> = users::table
        .filter(users::active.eq(true))
        .filter(users::email.is_not_null())
        .filter(users::roles.like(format!("%{}%", Role::Supervisor.as_str())))
        .select((users::roles, users::email))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(roles, _)| RoleSet::from_db(roles).contains(Role::Supervisor))
        .filter_map(|(_, email)| email)
        .collect())
}

/// What the e-mail templates see: the ticket (no personal data), the department, the running
/// deadlines and, for a warning, the warning.
fn email_context(
    conn: &mut DbConnection,
    ticket: &TicketRow,
    payload: &Value,
    department: Option<&DepartmentContact>,
) -> Result<Value, AppError> {
    let running: Vec<(String, NaiveDateTime)> = ticket_deadlines::table
        .filter(ticket_deadlines::ticket_id.eq(&ticket.id))
        .filter(ticket_deadlines::completed_at.is_null())
        .order(ticket_deadlines::due_at.asc())
        .select((ticket_deadlines::step, ticket_deadlines::due_at))
        .load(conn)?;
    let deadlines: Vec<Value> = running
        .into_iter()
        .map(|(step, due)| json!({"step": step, "due_at": utc(due)}))
        .collect();
    let warning = (payload.get("step").is_some()).then(
        || json!({"step": payload["step"], "level": payload["level"], "due_at": payload["due_at"]}),
    );
    let flag = (payload.get("flag_id").is_some()).then(|| {
        json!({"level": payload["level"], "instruction": payload["instruction"],
               "due_at": payload["due_at"]})
    });
    Ok(json!({
        "ticket": {
            "id": ticket.id, "number": ticket.number, "title": ticket.title,
            "kind": ticket.kind, "urgency": ticket.urgency, "status": ticket.status,
        },
        "department": department.map(|d| json!({"name": d.name, "code": d.code})),
        "deadlines": deadlines,
        "warning": warning,
        "flag": flag,
    }))
}

/// The body of a webhook: the event, the citizen-safe view of the ticket, what the event adds,
/// and the one contact field the subscriber was granted (if the ticket has it).
fn webhook_body(
    ticket: &TicketRow,
    event: EventType,
    payload: &Value,
    department: Option<&DepartmentContact>,
    contact: WebhookContact,
    now: NaiveDateTime,
) -> Value {
    let data = match event {
        EventType::TicketNote => json!({"text": payload["text"]}),
        EventType::DeadlineYellow | EventType::DeadlineRed => {
            json!({"step": payload["step"], "level": payload["level"], "due_at": payload["due_at"]})
        }
        EventType::SupervisionFlagged => json!({"level": payload["level"],
            "instruction": payload["instruction"], "due_at": payload["due_at"]}),
        _ => json!({}),
    };
    let citizen = match contact {
        WebhookContact::None => None,
        WebhookContact::OpenId => ticket
            .citizen_open_id
            .as_ref()
            .map(|v| json!({"open_id": v})),
        WebhookContact::Phone => ticket.citizen_phone.as_ref().map(|v| json!({"phone": v})),
    };
    let mut body = json!({
        "type": event,
        "occurred_at": utc(now),
        "ticket": {
            "id": ticket.id, "number": ticket.number, "status": ticket.status,
            "kind": ticket.kind, "channel": ticket.channel, "title": ticket.title,
            "department": department.map(|d| json!({"name": d.name, "code": d.code})),
            "reply": ticket.reply, "created_at": utc(ticket.created_at),
            "replied_at": ticket.replied_at.map(utc), "closed_at": ticket.closed_at.map(utc),
        },
        "data": data,
    });
    if let Some(citizen) = citizen {
        body["citizen"] = citizen;
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_learns_of_what() {
        let none = json!({});
        let n = classify(
            "dispatch",
            Some(Status::Registered),
            Status::Dispatched,
            &none,
        );
        assert_eq!(
            n.webhooks,
            vec![EventType::TicketDispatched, EventType::TicketAssigned]
        );
        assert_eq!(
            n.emails,
            vec![("ticket_assigned", Audience::LeadDepartment)]
        );
        // a re-dispatch after a return tells the new department, not the citizen again
        let n = classify(
            "approve_return",
            Some(Status::ReturnPending),
            Status::Dispatched,
            &none,
        );
        assert_eq!(n.webhooks, vec![EventType::TicketAssigned]);
        let red = classify(
            "warning",
            Some(Status::InProgress),
            Status::InProgress,
            &json!({"level": "red"}),
        );
        assert_eq!(red.emails.len(), 2);
        assert!(red
            .emails
            .contains(&("deadline_red", Audience::Supervisors)));
        assert_eq!(
            classify("note", Some(Status::InProgress), Status::InProgress, &none),
            Notices::default()
        );
        assert_eq!(
            classify("close", Some(Status::Replied), Status::Closed, &none).webhooks,
            vec![EventType::TicketClosed]
        );
        assert_eq!(
            "ticket.replied".parse::<EventType>().ok(),
            Some(EventType::TicketReplied)
        );
        assert_eq!(EventType::DeadlineRed.as_str(), "deadline.red");
    }
}
