//! Ticket rows, request bodies and views.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::state::Action;
use crate::accounts::utc;
use crate::db::schema::{ticket_events, tickets};
use crate::ids::{CategoryId, DepartmentId, RegionId, TicketId, UserId};
use crate::vocab::{CallbackResult, Channel, ExtensionState, Kind, Satisfaction, Status, Urgency};

/// A ticket's row. Inserted with `None` as NULL (`treat_none_as_default_value = false`, as are
/// events, deadlines and outbox rows; no nullable column has another default): the insert's SQL
/// is then the same for every row and PostgreSQL keeps it prepared, where a `DEFAULT` makes
/// diesel send the statement to be parsed and planned again at every call.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = tickets, treat_none_as_default_value = false)]
pub struct TicketRow {
    pub id: String,
    pub number: String,
    pub channel: Channel,
    pub kind: Kind,
    pub urgency: Urgency,
    pub status: Status,
    pub category_id: Option<String>,
    pub attributes: String,
    pub region_id: Option<String>,
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub title: String,
    pub description: String,
    pub citizen_name: Option<String>,
    pub citizen_phone: Option<String>,
    pub citizen_open_id: Option<String>,
    pub anonymous: bool,
    pub confidential: bool,
    pub lead_department_id: Option<String>,
    pub lead_department_path: Option<String>,
    pub assignee_id: Option<String>,
    pub merged_into: Option<String>,
    pub status_before_return: Option<Status>,
    pub extension_state: Option<ExtensionState>,
    pub extension_days: Option<i32>,
    pub reply: Option<String>,
    pub call_id: Option<String>,
    pub caller_number: Option<String>,
    #[diesel(deserialize_as = crate::db::stamp::MaybeStamp)]
    pub call_started_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = crate::db::stamp::MaybeStamp)]
    pub call_ended_at: Option<NaiveDateTime>,
    pub created_by: Option<String>,
    pub api_client_id: Option<String>,
    pub version: i32,
    #[diesel(deserialize_as = crate::db::stamp::Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = crate::db::stamp::Stamp)]
    pub updated_at: NaiveDateTime,
    #[diesel(deserialize_as = crate::db::stamp::MaybeStamp)]
    pub dispatched_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = crate::db::stamp::MaybeStamp)]
    pub signed_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = crate::db::stamp::MaybeStamp)]
    pub replied_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = crate::db::stamp::MaybeStamp)]
    pub closed_at: Option<NaiveDateTime>,
    /// The citizen's contact address (personal); `address` is where the problem is.
    pub citizen_address: Option<String>,
    /// The soonest running deadline (kept by `tickets::deadlines`), for the queues by time.
    #[diesel(deserialize_as = crate::db::stamp::MaybeStamp)]
    pub next_due_at: Option<NaiveDateTime>,
    /// How the closing follow-up ended (docs/callbacks.md).
    pub callback_result: Option<CallbackResult>,
    /// The citizen's verdict: the worst over its citizens' callbacks.
    pub satisfaction: Option<Satisfaction>,
    pub resolved: Option<bool>,
    /// Times sent back to the department after the callback.
    pub redo_count: i32,
    /// Times reopened after being closed.
    pub reopen_count: i32,
}

/// The columns of a ticket a command changed, and only those: `UPDATE tickets SET` every column
/// made SQLite rewrite the ticket's entry in each of its indexes, changed or not — ten of a
/// dispatch's sixty-odd pages written (docs/benchmarks.md, "The sixth round"). A field is
/// `None` when its column is unchanged; a nullable column set to NULL is `Some(None)`.
macro_rules! ticket_changes {
    ($($field:ident: $ty:ty,)*) => {
        #[derive(Debug, Default, AsChangeset)]
        #[diesel(table_name = tickets)]
        pub struct TicketChanges {
            $(pub $field: Option<$ty>,)*
        }

        impl TicketChanges {
            /// What differs in `after` from `before` (the same ticket).
            pub fn between(before: &TicketRow, after: &TicketRow) -> TicketChanges {
                let mut changes = TicketChanges::default();
                $(
                    if before.$field != after.$field {
                        changes.$field = Some(after.$field.clone());
                    }
                )*
                changes
            }
        }
    };
}

ticket_changes! {
    number: String,
    channel: Channel,
    kind: Kind,
    urgency: Urgency,
    status: Status,
    category_id: Option<String>,
    attributes: String,
    region_id: Option<String>,
    address: Option<String>,
    lat: Option<f64>,
    lng: Option<f64>,
    title: String,
    description: String,
    citizen_name: Option<String>,
    citizen_phone: Option<String>,
    citizen_open_id: Option<String>,
    anonymous: bool,
    confidential: bool,
    lead_department_id: Option<String>,
    lead_department_path: Option<String>,
    assignee_id: Option<String>,
    merged_into: Option<String>,
    status_before_return: Option<Status>,
    extension_state: Option<ExtensionState>,
    extension_days: Option<i32>,
    reply: Option<String>,
    call_id: Option<String>,
    caller_number: Option<String>,
    call_started_at: Option<NaiveDateTime>,
    call_ended_at: Option<NaiveDateTime>,
    created_by: Option<String>,
    api_client_id: Option<String>,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    dispatched_at: Option<NaiveDateTime>,
    signed_at: Option<NaiveDateTime>,
    replied_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
    citizen_address: Option<String>,
    next_due_at: Option<NaiveDateTime>,
    callback_result: Option<CallbackResult>,
    satisfaction: Option<Satisfaction>,
    resolved: Option<bool>,
    redo_count: i32,
    reopen_count: i32,
}

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = ticket_events, treat_none_as_default_value = false)]
pub struct EventRow {
    pub id: String,
    pub ticket_id: String,
    pub seq: i32,
    pub action: String,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_role: Option<String>,
    pub from_status: Option<String>,
    pub to_status: String,
    pub payload: String,
    pub public: bool,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable)]
pub struct AccessLogRow {
    pub id: String,
    pub user_id: String,
    pub ticket_id: String,
    pub fields: String,
    pub reason: Option<String>,
    pub created_at: NaiveDateTime,
}

/// A co-handling department of a ticket, with its tree path (for visibility).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoHandler {
    pub department_id: String,
    pub department_path: String,
}

// ---- input ----------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CitizenInput {
    /// At most 100 characters.
    pub name: Option<String>,
    /// Normalised at intake (spaces, dashes, `+86`/`0086`, full-width digits) and validated:
    /// mainland mobile, landline with area code, local or service number, or `+` international.
    pub phone: Option<String>,
    /// Where the citizen can be reached (personal, masked); at most 500 characters. The place of
    /// the problem is the ticket's `address`.
    pub address: Option<String>,
    /// WeChat open id (mini-program submissions: required): 1-128 letters, digits, `.`, `_`,
    /// `-`, `:`, `@`.
    pub open_id: Option<String>,
    /// The citizen asked not to be named; no callback is made.
    #[serde(default)]
    pub anonymous: bool,
}

/// Telephony metadata of a hotline call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallInput {
    /// The number the switch reported, normalised and validated like `citizen.phone`.
    pub caller_number: Option<String>,
    /// The call's id in the telephony system: 1-128 letters, digits, `.`, `_`, `-`, `:`, `@`.
    pub call_id: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTicket {
    /// Staff: `hotline` (default), `web`, `wechat`, `walk_in`, `open311`. API clients: `miniprogram`.
    pub channel: Option<Channel>,
    /// Defaults to the category's default kind.
    pub kind: Option<Kind>,
    /// Default `normal`.
    pub urgency: Option<Urgency>,
    pub category_id: Option<CategoryId>,
    /// Answers to the category's attributes, by attribute code.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// Resolved from `lat`/`lng` when absent.
    pub region_id: Option<RegionId>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    /// Where the problem is (the incident location; shown to the handling departments), at
    /// most 500 characters.
    pub address: Option<String>,
    /// 1-200 characters.
    pub title: String,
    /// 1-4000 characters.
    pub description: String,
    pub citizen: Option<CitizenInput>,
    #[serde(default)]
    pub confidential: bool,
    pub call: Option<CallInput>,
}

/// The body of `POST /api/v1/tickets/{id}/{action}`; each action reads the fields it needs.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// dispatch (optional: routing decides), approve_return (required), forward (required)
    pub department_id: Option<DepartmentId>,
    /// dispatch, approve_return
    pub co_department_ids: Option<Vec<DepartmentId>>,
    /// assign
    pub assignee_id: Option<UserId>,
    /// return, reject_return, redo, cancel, request_extension (required); others optional
    pub reason: Option<String>,
    /// reply, direct_answer
    pub reply: Option<String>,
    /// note, public_note, contribute
    pub text: Option<String>,
    /// request_extension: working days, 1-10
    pub days: Option<i32>,
    /// merge: the surviving ticket
    pub into: Option<TicketId>,
    /// Set by the service when the callbacks conclude a ticket (close or redo); never read from
    /// a request.
    #[serde(skip)]
    pub conclusion: Option<Conclusion>,
}

/// What the callbacks concluded: the result, the worst verdict, whether every reached citizen
/// called the matter resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conclusion {
    pub result: CallbackResult,
    pub satisfaction: Option<Satisfaction>,
    pub resolved: Option<bool>,
}

// ---- views ----------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Citizen {
    /// Always masked (`张**`); `null` for a report's reporter seen by a department. The full
    /// value comes from `POST /api/v1/tickets/{id}/reveal`, which is logged.
    pub name: Option<String>,
    /// Always masked by its structure (`1******5678`).
    pub phone: Option<String>,
    /// The contact address, always masked (`寿光市圣城****`).
    pub address: Option<String>,
    /// Masked (`oAbC****`); not shown to departments.
    pub open_id: Option<String>,
    pub anonymous: bool,
    /// Always true: views carry masked contact data only.
    pub masked: bool,
    /// True for a `report` seen by a department: the reporter is never revealed.
    pub reporter_hidden: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Call {
    /// Masked like the phone; `null` for a report seen by a department.
    pub caller_number: Option<String>,
    pub call_id: Option<String>,
    #[serde(serialize_with = "crate::serde_util::stamp_opt")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::serde_util::stamp_opt")]
    pub ended_at: Option<DateTime<Utc>>,
}

/// A department by id and name.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DepartmentRef {
    pub id: DepartmentId,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Extension {
    /// `requested`, `approved` or `rejected`.
    pub state: ExtensionState,
    pub days: Option<i32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ticket {
    pub id: TicketId,
    /// Human-readable, e.g. `HL20261123000123`.
    pub number: String,
    pub channel: Channel,
    pub kind: Kind,
    pub urgency: Urgency,
    pub status: Status,
    pub category_id: Option<CategoryId>,
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    pub region_id: Option<RegionId>,
    /// Where the problem is (not personal data: the departments must go there).
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub title: String,
    pub description: String,
    pub citizen: Citizen,
    pub confidential: bool,
    pub lead_department_id: Option<DepartmentId>,
    pub lead_department_name: Option<String>,
    pub co_department_ids: Vec<DepartmentId>,
    /// The co-handling departments with their names.
    pub co_departments: Vec<DepartmentRef>,
    pub assignee_id: Option<UserId>,
    /// The assignee's display name.
    pub assignee_name: Option<String>,
    pub merged_into: Option<TicketId>,
    pub reply: Option<String>,
    pub extension: Option<Extension>,
    pub call: Option<Call>,
    /// Send as `If-Match` with the next action; also in the `ETag` header.
    pub version: i32,
    #[serde(serialize_with = "crate::serde_util::stamp")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::serde_util::stamp")]
    pub updated_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::serde_util::stamp_opt")]
    pub dispatched_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::serde_util::stamp_opt")]
    pub signed_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::serde_util::stamp_opt")]
    pub replied_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::serde_util::stamp_opt")]
    pub closed_at: Option<DateTime<Utc>>,
    /// The closing follow-up: how it ended, the citizen's verdict (docs/callbacks.md).
    pub callback_result: Option<CallbackResult>,
    pub satisfaction: Option<Satisfaction>,
    pub resolved: Option<bool>,
    pub redo_count: i32,
    pub reopen_count: i32,
    /// What the caller may do now.
    pub allowed_actions: Vec<Action>,
    /// The deadline of each step so far, oldest first: open ones with their state now.
    pub deadlines: Vec<DeadlineView>,
}

/// One step's deadline on a ticket.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeadlineView {
    /// `dispatch`, `sign`, `return_window`, `handle` or `callback`.
    pub step: String,
    /// The limit that produced it (`1wd`, `2wh`, `24h`, ...), kept from when the step started.
    pub time_limit: String,
    #[serde(serialize_with = "crate::serde_util::stamp")]
    pub started_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::serde_util::stamp")]
    pub due_at: DateTime<Utc>,
    /// Open steps: `on_track`, `yellow` or `red`.
    pub state: Option<crate::deadlines::DeadlineState>,
    /// Open steps: time left in the limit's own time (working minutes for working limits),
    /// negative once overdue.
    pub remaining_minutes: Option<i64>,
    /// True while a return is under review (the clock stands still).
    pub paused: bool,
    #[serde(serialize_with = "crate::serde_util::stamp_opt")]
    pub completed_at: Option<DateTime<Utc>>,
    /// Completed steps: minutes late (0 when on time). Never forgiven.
    pub overdue_minutes: Option<i32>,
}

impl Ticket {
    pub fn from_row(
        row: &TicketRow,
        co: &[CoHandler],
        citizen: Citizen,
        caller_number: Option<String>,
        allowed_actions: Vec<Action>,
    ) -> Ticket {
        let has_call =
            row.call_id.is_some() || row.caller_number.is_some() || row.call_started_at.is_some();
        Ticket {
            id: TicketId(row.id.clone()),
            number: row.number.clone(),
            channel: row.channel,
            kind: row.kind,
            urgency: row.urgency,
            status: row.status,
            category_id: row.category_id.clone().map(CategoryId),
            attributes: serde_json::from_str(&row.attributes).unwrap_or_default(),
            region_id: row.region_id.clone().map(RegionId),
            address: row.address.clone(),
            lat: row.lat,
            lng: row.lng,
            title: row.title.clone(),
            description: row.description.clone(),
            citizen,
            confidential: row.confidential,
            lead_department_id: row.lead_department_id.clone().map(DepartmentId),
            co_department_ids: co
                .iter()
                .map(|c| DepartmentId(c.department_id.clone()))
                .collect(),
            assignee_id: row.assignee_id.clone().map(UserId),
            co_departments: Vec::new(),
            lead_department_name: None,
            assignee_name: None,
            merged_into: row.merged_into.clone().map(TicketId),
            reply: row.reply.clone(),
            extension: row.extension_state.map(|state| Extension {
                state,
                days: row.extension_days,
            }),
            call: has_call.then(|| Call {
                caller_number,
                call_id: row.call_id.clone(),
                started_at: row.call_started_at.map(utc),
                ended_at: row.call_ended_at.map(utc),
            }),
            version: row.version,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
            dispatched_at: row.dispatched_at.map(utc),
            signed_at: row.signed_at.map(utc),
            replied_at: row.replied_at.map(utc),
            closed_at: row.closed_at.map(utc),
            callback_result: row.callback_result,
            satisfaction: row.satisfaction,
            resolved: row.resolved,
            redo_count: row.redo_count,
            reopen_count: row.reopen_count,
            allowed_actions,
            deadlines: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventActor {
    /// `user`, `api_client` or `system`.
    pub kind: String,
    pub id: Option<String>,
    pub role: Option<String>,
    /// The user's display name or the API client's name.
    pub name: Option<String>,
}

/// The payload key under which a `create` event keeps contact data as typed.
pub const RAW_INPUT: &str = "raw_input";

/// One entry of a ticket's append-only log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Event {
    pub id: String,
    /// 1, 2, 3, ...; equals the ticket version the event produced.
    pub seq: i32,
    /// `create`, an action name, or `merged_in`.
    pub action: String,
    pub actor: EventActor,
    pub from_status: Option<Status>,
    pub to_status: Status,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Shown to the citizen (replies, public progress notes).
    pub public: bool,
    #[serde(serialize_with = "crate::serde_util::stamp")]
    pub created_at: DateTime<Utc>,
}

impl From<EventRow> for Event {
    fn from(e: EventRow) -> Self {
        Event {
            id: e.id,
            seq: e.seq,
            action: e.action,
            actor: EventActor {
                kind: e.actor_kind,
                id: e.actor_id,
                role: e.actor_role,
                name: None,
            },
            from_status: e.from_status.and_then(|s| s.parse().ok()),
            to_status: e.to_status.parse().unwrap_or(Status::Registered),
            payload: {
                let mut payload: serde_json::Value =
                    serde_json::from_str(&e.payload).unwrap_or_default();
                // the input as typed, when normalisation changed it: personal, revealed only
                if let Some(map) = payload.as_object_mut() {
                    map.remove(RAW_INPUT);
                }
                payload
            },
            public: e.public,
            created_at: utc(e.created_at),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Queue {
    /// registered: waiting for dispatch
    Dispatch,
    /// return_pending: returns to review
    ReturnReview,
    /// replied: waiting for the callback
    Callback,
    /// my department: dispatched, to sign for
    ToSign,
    /// my department: in progress
    InProgress,
    /// my department: returned, under review
    Returned,
    /// assigned to me
    Mine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    Oldest,
    Newest,
    /// Soonest running deadline first (tickets without one are left out).
    Due,
}

/// A deadline's warning level, to filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Warning {
    /// Little time left, not yet due.
    Yellow,
    /// Overdue.
    Red,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketFilter {
    pub queue: Option<Queue>,
    pub status: Option<Status>,
    /// Led by this department or one below it.
    pub department_id: Option<uuid::Uuid>,
    /// This category or one below it.
    pub category_id: Option<uuid::Uuid>,
    /// This region or one inside it.
    pub region_id: Option<uuid::Uuid>,
    pub kind: Option<Kind>,
    pub urgency: Option<Urgency>,
    pub channel: Option<Channel>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    /// The citizen's or caller's phone (hotline staff only): earlier tickets of a caller.
    pub phone: Option<String>,
    pub number: Option<String>,
    /// Title or description contains this text.
    pub q: Option<String>,
    /// `oldest` (default, queue order), `newest`, or `due` (soonest running deadline first).
    pub order: Option<Order>,
    /// Only tickets with a running deadline due before this instant (RFC 3339).
    pub due_before: Option<DateTime<Utc>>,
    /// Only tickets with a running deadline at this warning level now.
    pub warning: Option<Warning>,
    /// Only tickets with a running deadline of this step.
    #[param(value_type = Option<String>)]
    pub step: Option<crate::deadlines::Step>,
}

impl TicketFilter {
    /// Whether anything but the text (`q`) and the order narrows the list.
    pub fn narrows_beyond_text(&self) -> bool {
        let TicketFilter {
            queue,
            status,
            department_id,
            category_id,
            region_id,
            kind,
            urgency,
            channel,
            created_from,
            created_to,
            phone,
            number,
            q: _,
            order: _,
            due_before,
            warning,
            step,
        } = self;
        queue.is_some()
            || status.is_some()
            || department_id.is_some()
            || category_id.is_some()
            || region_id.is_some()
            || kind.is_some()
            || urgency.is_some()
            || channel.is_some()
            || created_from.is_some()
            || created_to.is_some()
            || phone.as_deref().is_some_and(|p| !p.is_empty())
            || number.as_deref().is_some_and(|n| !n.is_empty())
            || due_before.is_some()
            || warning.is_some()
            || step.is_some()
    }
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccessLogFilter {
    pub ticket_id: Option<uuid::Uuid>,
    pub user_id: Option<uuid::Uuid>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessLogEntry {
    pub id: String,
    pub user_id: UserId,
    pub ticket_id: TicketId,
    /// The personal-data fields shown unmasked.
    pub fields: Vec<String>,
    pub reason: Option<String>,
    #[serde(serialize_with = "crate::serde_util::stamp")]
    pub created_at: DateTime<Utc>,
}

impl From<AccessLogRow> for AccessLogEntry {
    fn from(r: AccessLogRow) -> Self {
        AccessLogEntry {
            id: r.id,
            user_id: UserId(r.user_id),
            ticket_id: TicketId(r.ticket_id),
            fields: r.fields.split(',').map(str::to_string).collect(),
            reason: r.reason,
            created_at: utc(r.created_at),
        }
    }
}

/// `POST /api/v1/tickets/{id}/reveal`: why the full contact data is needed.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    /// 1-200 characters, recorded in the access log (e.g. "callback: confirm the address").
    pub reason: String,
}

/// The contact data of a ticket, unmasked. Every answer is one access-log row naming `fields`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RevealedContact {
    pub ticket_id: TicketId,
    pub number: String,
    pub citizen_name: Option<String>,
    pub citizen_phone: Option<String>,
    pub citizen_address: Option<String>,
    /// Hotline staff only.
    pub open_id: Option<String>,
    pub caller_number: Option<String>,
    /// The contact data as typed at intake, where normalisation changed it.
    #[schema(value_type = Option<Object>)]
    pub raw_input: Option<serde_json::Value>,
    /// The fields shown (and logged).
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProgressNote {
    pub text: String,
    #[serde(serialize_with = "crate::serde_util::stamp")]
    pub at: DateTime<Utc>,
}

/// What the citizen sees of their ticket in the mini-program.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CitizenTicket {
    pub id: TicketId,
    pub number: String,
    pub status: Status,
    pub title: String,
    #[serde(serialize_with = "crate::serde_util::stamp")]
    pub created_at: DateTime<Utc>,
    /// Public progress notes, oldest first.
    pub progress: Vec<ProgressNote>,
    /// The answer, once replied.
    pub reply: Option<String>,
    #[serde(serialize_with = "crate::serde_util::stamp_opt")]
    pub replied_at: Option<DateTime<Utc>>,
}

impl CitizenTicket {
    pub fn new(row: &TicketRow, public_events: Vec<EventRow>) -> CitizenTicket {
        let status = row.status;
        CitizenTicket {
            id: TicketId(row.id.clone()),
            number: row.number.clone(),
            // a merged ticket is handled under the surviving one
            status,
            title: row.title.clone(),
            created_at: utc(row.created_at),
            progress: public_events
                .into_iter()
                .filter(|e| e.action == Action::PublicNote.as_str())
                .filter_map(|e| {
                    let payload: serde_json::Value = serde_json::from_str(&e.payload).ok()?;
                    Some(ProgressNote {
                        text: payload["text"].as_str()?.to_string(),
                        at: utc(e.created_at),
                    })
                })
                .collect(),
            reply: row.reply.clone(),
            replied_at: row.replied_at.map(utc),
        }
    }
}
