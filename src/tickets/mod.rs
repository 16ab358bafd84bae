//! Tickets: intake from the hotline and the mini-program, the lifecycle through the state
//! machine (`state`), the append-only event log, queues and search, and privacy.
//!
//! Every change writes the ticket row and one event in the same transaction; the event's `seq`
//! equals the ticket's new `version`, so the log replays to the row.

pub mod attachments;
pub mod model;
pub mod privacy;
pub mod state;

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use self::model::*;
use self::state::{Action, Actor, Facts, Refusal};
use crate::auth::{ApiClientPrincipal, Role, RoleSet, UserPrincipal};
use crate::catalogue::{self, Attribute, AttributeType};
use crate::db::schema::{
    access_log, intake_keys, ticket_co_handlers, ticket_counters, ticket_events, tickets,
};
use crate::db::{self, DbConnection};
use crate::error::{AppError, WhenMissing};
use crate::ids::{CategoryId, DepartmentId, RegionId, TicketId};
use crate::pagination::{Page, PageRequest};
use crate::routing::{self, CandidateSource, RoutingRequest};
use crate::vocab::{Channel, Kind, Status, Urgency};
use crate::{org, regions, tree, validate};

/// Ticket settings drawn from the configuration.
#[derive(Debug, Clone)]
pub struct TicketPolicy {
    /// Dispatch at intake when routing finds an exact rule match.
    pub auto_dispatch: bool,
    /// Department roles that may reveal citizens' contact data.
    pub department_contact_roles: Vec<Role>,
}

/// Who reads or acts, with what they may see.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user_id: Option<String>,
    pub api_client_id: Option<String>,
    pub actor: Actor,
    /// The role recorded on events.
    pub role_label: String,
    /// May reveal the citizen's contact data (`reveal`; each reveal is logged).
    pub contact_access: bool,
}

impl Viewer {
    /// A staff member, as authenticated (their department's path came with the session check).
    pub fn for_user(user: &UserPrincipal, policy: &TicketPolicy) -> Viewer {
        let hotline = state::HOTLINE_ROLES.iter().any(|r| user.roles.contains(*r));
        let contact_access = hotline
            || policy
                .department_contact_roles
                .iter()
                .any(|r| user.roles.contains(*r));
        let role_label = user
            .roles
            .to_vec()
            .first()
            .map(|r| r.as_str().to_string())
            .unwrap_or_default();
        Viewer {
            user_id: Some(user.id.0.clone()),
            api_client_id: None,
            actor: Actor {
                roles: user.roles.clone(),
                department_id: user.department_id.as_ref().map(|d| d.0.clone()),
                department_path: user.department_path.clone(),
            },
            role_label,
            contact_access,
        }
    }

    pub fn for_client(client: &ApiClientPrincipal) -> Viewer {
        Viewer {
            user_id: None,
            api_client_id: Some(client.id.0.clone()),
            actor: Actor {
                roles: RoleSet::default(),
                department_id: None,
                department_path: None,
            },
            role_label: "api_client".into(),
            contact_access: false,
        }
    }

    fn is_department_user(&self) -> bool {
        !state::HOTLINE_ROLES
            .iter()
            .any(|r| self.actor.roles.contains(*r))
    }

    fn event_actor(&self) -> (&'static str, Option<String>, Option<String>) {
        match (&self.user_id, &self.api_client_id) {
            (Some(u), _) => ("user", Some(u.clone()), Some(self.role_label.clone())),
            (None, Some(c)) => ("api_client", Some(c.clone()), Some("api_client".into())),
            (None, None) => ("system", None, None),
        }
    }
}

fn system_viewer() -> Viewer {
    Viewer {
        user_id: None,
        api_client_id: None,
        actor: Actor {
            roles: RoleSet::new([Role::Dispatcher]),
            department_id: None,
            department_path: None,
        },
        role_label: "system".into(),
        contact_access: false,
    }
}

// ---- numbers ------------------------------------------------------------------------------

/// The date in China Standard Time (UTC+8; China keeps no daylight saving, so the shift is exact).
fn china_date(now: NaiveDateTime) -> String {
    (now + chrono::Duration::hours(8))
        .format("%Y%m%d")
        .to_string()
}

/// The next number of the day, `HL` + date (China time) + 6 digits. The counter row is updated
/// with `UPDATE ... RETURNING` inside the ticket's transaction: concurrent writers, in one
/// process or several, queue on the row lock and never share a number.
fn next_number(conn: &mut DbConnection, now: NaiveDateTime) -> Result<String, AppError> {
    let day = china_date(now);
    let bump = |conn: &mut DbConnection| -> Result<Option<i32>, AppError> {
        Ok(diesel::update(ticket_counters::table.find(&day))
            .set(ticket_counters::last.eq(ticket_counters::last + 1))
            .returning(ticket_counters::last)
            .get_result::<i32>(conn)
            .optional()?)
    };
    let last = match bump(conn)? {
        Some(n) => n,
        None => {
            // first ticket of the day: create the row; a concurrent creator may win the insert
            let inserted = conn.transaction(|c| {
                diesel::insert_into(ticket_counters::table)
                    .values((ticket_counters::day.eq(&day), ticket_counters::last.eq(0)))
                    .execute(c)
            });
            match inserted {
                Ok(_)
                | Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => {}
                Err(e) => return Err(e.into()),
            }
            bump(conn)?.ok_or_else(|| AppError::Internal("ticket counter vanished".into()))?
        }
    };
    Ok(format!("HL{day}{last:06}"))
}

// ---- intake ---------------------------------------------------------------------------------

fn check_attributes(
    definitions: &[Attribute],
    answers: &serde_json::Map<String, Value>,
) -> Result<(), AppError> {
    for def in definitions.iter().filter(|d| d.variable) {
        let answer = answers.get(&def.code).filter(|v| !v.is_null());
        let Some(answer) = answer else {
            if def.required {
                return Err(AppError::validation(format!(
                    "attributes.{}: required ({})",
                    def.code, def.description
                )));
            }
            continue;
        };
        let keys: Vec<&str> = def.values.iter().map(|v| v.key.as_str()).collect();
        let ok = match def.datatype {
            AttributeType::String | AttributeType::Text => answer.is_string(),
            AttributeType::Number => answer.is_number(),
            AttributeType::Datetime => answer
                .as_str()
                .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
            AttributeType::Singlevaluelist => answer.as_str().is_some_and(|s| keys.contains(&s)),
            AttributeType::Multivaluelist => answer.as_array().is_some_and(|a| {
                a.iter()
                    .all(|v| v.as_str().is_some_and(|s| keys.contains(&s)))
            }),
        };
        if !ok {
            return Err(AppError::validation(format!(
                "attributes.{}: expected {:?}{}",
                def.code,
                def.datatype,
                if keys.is_empty() {
                    String::new()
                } else {
                    format!(" of {}", keys.join(", "))
                }
            )));
        }
    }
    if let Some(unknown) = answers
        .keys()
        .find(|k| !definitions.iter().any(|d| &d.code == *k))
    {
        return Err(AppError::validation(format!(
            "attributes.{unknown}: not an attribute of this category"
        )));
    }
    Ok(())
}

/// Contact data as typed, where normalisation changed it (kept in the `create` event).
type RawInput = serde_json::Map<String, Value>;

/// Normalises an optional phone field, recording the typed form when it differs.
fn normalise_phone(
    field: &str,
    value: Option<&str>,
    raw: &mut RawInput,
) -> Result<Option<String>, AppError> {
    let Some(typed) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let phone = validate::phone(field, typed)?.into_string();
    if phone != typed {
        raw.insert(field.to_string(), json!(typed));
    }
    Ok(Some(phone))
}

/// Validates the input and builds the row of a new ticket (status `registered`), with the
/// contact data as typed where it was normalised.
fn build_row(
    conn: &mut DbConnection,
    input: &NewTicket,
    channel: Channel,
    now: NaiveDateTime,
) -> Result<(TicketRow, RawInput), AppError> {
    validate::name("title", &input.title, 200)?;
    if input.description.trim().is_empty() || input.description.chars().count() > 4000 {
        return Err(AppError::validation("description: 1-4000 characters"));
    }
    let mut raw = RawInput::new();
    let citizen = input.citizen.clone().unwrap_or_default();
    let citizen_phone = normalise_phone("citizen.phone", citizen.phone.as_deref(), &mut raw)?;
    if let Some(name) = &citizen.name {
        validate::name("citizen.name", name, 100)?;
    }
    if let Some(address) = &citizen.address {
        validate::name("citizen.address", address, 500)?;
    }
    if let Some(open_id) = &citizen.open_id {
        validate::external_id("citizen.open_id", open_id, 128)?;
    }
    if let Some(address) = &input.address {
        validate::name("address", address, 500)?;
    }
    let answers = input.attributes.clone().unwrap_or_default();
    let category = match &input.category_id {
        Some(c) => Some(catalogue::referenced(conn, "category_id", c)?),
        None => None,
    };
    match &category {
        Some(c) => check_attributes(
            &crate::serde_util::from_json_text::<Vec<Attribute>>(&c.attributes),
            &answers,
        )?,
        None if !answers.is_empty() => {
            return Err(AppError::validation("attributes: need a category_id"))
        }
        None => {}
    }
    if let (Some(lat), Some(lng)) = (input.lat, input.lng) {
        validate::latitude("lat", lat)?;
        validate::longitude("lng", lng)?;
    }
    let region_id = match (&input.region_id, input.lat, input.lng) {
        (_, Some(_), None) | (_, None, Some(_)) => {
            return Err(AppError::validation("lat, lng: give both or neither"))
        }
        (Some(r), _, _) => Some(regions::referenced(conn, "region_id", r)?.id),
        (None, Some(lat), Some(lng)) => regions::resolve(conn, lat, lng)?.map(|r| r.id),
        (None, None, None) => None,
    };
    let kind = input.kind.or(category
        .as_ref()
        .and_then(|c| c.default_kind.as_deref().and_then(|k| k.parse().ok())));
    let kind = kind
        .ok_or_else(|| AppError::validation("kind: required (the category has no default kind)"))?;
    let call = input.call.clone().unwrap_or_default();
    let caller_number = normalise_phone(
        "call.caller_number",
        call.caller_number.as_deref(),
        &mut raw,
    )?;
    if let Some(call_id) = &call.call_id {
        validate::external_id("call.call_id", call_id, 128)?;
    }
    if let (Some(start), Some(end)) = (call.started_at, call.ended_at) {
        if end < start {
            return Err(AppError::validation(
                "call.ended_at: before call.started_at",
            ));
        }
    }
    let row = TicketRow {
        id: TicketId::generate().0,
        number: String::new(),
        channel: channel.as_str().into(),
        kind: kind.as_str().into(),
        urgency: input.urgency.unwrap_or(Urgency::Normal).as_str().into(),
        status: Status::Registered.as_str().into(),
        category_id: category.map(|c| c.id),
        attributes: Value::Object(answers).to_string(),
        region_id,
        address: input.address.clone(),
        lat: input.lat,
        lng: input.lng,
        title: input.title.trim().to_string(),
        description: input.description.clone(),
        citizen_name: citizen.name,
        citizen_phone,
        citizen_address: citizen.address,
        citizen_open_id: citizen.open_id,
        anonymous: citizen.anonymous,
        confidential: input.confidential,
        lead_department_id: None,
        lead_department_path: None,
        assignee_id: None,
        merged_into: None,
        status_before_return: None,
        extension_state: None,
        extension_days: None,
        reply: None,
        call_id: call.call_id,
        caller_number,
        call_started_at: call.started_at.map(|t| t.naive_utc()),
        call_ended_at: call.ended_at.map(|t| t.naive_utc()),
        created_by: None,
        api_client_id: None,
        version: 1,
        created_at: now,
        updated_at: now,
        dispatched_at: None,
        signed_at: None,
        replied_at: None,
        closed_at: None,
    };
    Ok((row, raw))
}

/// What an event records besides who and when.
struct Happened<'a> {
    action: &'a str,
    from: Option<&'a str>,
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
    let (kind, id, role) = viewer.event_actor();
    diesel::insert_into(ticket_events::table)
        .values(EventRow {
            id: db::new_id(),
            ticket_id: ticket.id.clone(),
            seq: ticket.version,
            action: what.action.to_string(),
            actor_kind: kind.to_string(),
            actor_id: id,
            actor_role: role,
            from_status: what.from.map(str::to_string),
            to_status: ticket.status.clone(),
            payload: what.payload.to_string(),
            public: what.public,
            created_at: now,
        })
        .execute(conn)?;
    Ok(())
}

fn insert_ticket(
    conn: &mut DbConnection,
    (mut row, raw): (TicketRow, RawInput),
    viewer: &Viewer,
    now: NaiveDateTime,
) -> Result<TicketRow, AppError> {
    row.number = next_number(conn, now)?;
    row.created_by = viewer.user_id.clone();
    row.api_client_id = viewer.api_client_id.clone();
    diesel::insert_into(tickets::table)
        .values(&row)
        .execute(conn)?;
    let mut payload = json!({
        "number": row.number, "channel": row.channel, "kind": row.kind, "urgency": row.urgency,
        "category_id": row.category_id, "region_id": row.region_id, "title": row.title,
        "confidential": row.confidential,
    });
    if !raw.is_empty() {
        payload[RAW_INPUT] = Value::Object(raw);
    }
    let created = Happened {
        action: "create",
        from: None,
        payload,
        public: false,
    };
    insert_event(conn, &row, viewer, created, now)?;
    Ok(row)
}

/// A staff member takes in a request (a hotline call, a walk-in, ...).
pub fn create(
    conn: &mut DbConnection,
    viewer: &Viewer,
    policy: &TicketPolicy,
    input: NewTicket,
    now: NaiveDateTime,
) -> Result<TicketRow, AppError> {
    if viewer.is_department_user() {
        return Err(AppError::Forbidden(
            "tickets are taken in by hotline staff".into(),
        ));
    }
    let channel = input.channel.unwrap_or(Channel::Hotline);
    if channel == Channel::Miniprogram {
        return Err(AppError::validation(
            "channel: mini-program submissions come from its gateway's API key",
        ));
    }
    db::write_tx(conn, |conn| {
        let row = build_row(conn, &input, channel, now)?;
        let row = insert_ticket(conn, row, viewer, now)?;
        auto_dispatch(conn, policy, row, now)
    })
}

/// Dispatches a new ticket when configured and routing finds an exact rule match.
fn auto_dispatch(
    conn: &mut DbConnection,
    policy: &TicketPolicy,
    row: TicketRow,
    now: NaiveDateTime,
) -> Result<TicketRow, AppError> {
    if !policy.auto_dispatch {
        return Ok(row);
    }
    let routed = routing::route(conn, &routing_request(&row))?;
    let Some(first) = routed
        .candidates
        .first()
        .filter(|c| c.source == CandidateSource::Rule)
    else {
        return Ok(row);
    };
    let Some(department) = first.department.clone() else {
        return Ok(row);
    };
    let body = ActionBody {
        department_id: Some(department.id),
        co_department_ids: Some(first.co_handlers.iter().map(|d| d.id.clone()).collect()),
        reason: first
            .rule
            .as_ref()
            .map(|r| format!("automatic: rule '{}'", r.name)),
        ..Default::default()
    };
    apply(
        conn,
        &system_viewer(),
        row,
        Vec::new(),
        Action::Dispatch,
        body,
        now,
    )
    .map(|(row, _)| row)
}

fn routing_request(row: &TicketRow) -> RoutingRequest {
    RoutingRequest {
        category_id: row.category_id.clone().map(CategoryId),
        region_id: row.region_id.clone().map(RegionId),
        lat: None,
        lng: None,
        kind: row.kind.parse().ok(),
        text: format!("{} {}", row.title, row.description),
    }
}

/// A mini-program submission through its gateway. The `Idempotency-Key` makes retries safe: the
/// same key with the same body answers the ticket made the first time (`created = false`); the
/// same key with another body is a 409.
pub fn submit(
    conn: &mut DbConnection,
    client: &ApiClientPrincipal,
    policy: &TicketPolicy,
    key: &str,
    input: NewTicket,
    now: NaiveDateTime,
) -> Result<(TicketRow, bool), AppError> {
    if key.is_empty() || key.len() > 200 {
        return Err(AppError::bad_request(
            "idempotency_key_required",
            "send an Idempotency-Key header of 1-200 characters",
        ));
    }
    if input
        .citizen
        .as_ref()
        .and_then(|c| c.open_id.as_deref())
        .is_none_or(str::is_empty)
    {
        return Err(AppError::validation(
            "citizen.open_id: required for mini-program submissions",
        ));
    }
    if input.channel.is_some_and(|c| c != Channel::Miniprogram) {
        return Err(AppError::validation(
            "channel: an API client submits on the miniprogram channel",
        ));
    }
    let hash = {
        let canonical = serde_json::to_string(&input).unwrap_or_default();
        Sha256::digest(canonical.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let viewer = Viewer::for_client(client);
    let attempt = |conn: &mut DbConnection| {
        db::write_tx(conn, |conn| {
            let seen: Option<(String, String)> = intake_keys::table
                .find((client.id.as_str(), key))
                .select((intake_keys::request_hash, intake_keys::ticket_id))
                .first(conn)
                .optional()?;
            if let Some((seen_hash, ticket_id)) = seen {
                if seen_hash != hash {
                    return Err(AppError::conflict(
                        "idempotency_key_reused",
                        "this Idempotency-Key was used for a different submission",
                    ));
                }
                let row = tickets::table.find(&ticket_id).first::<TicketRow>(conn)?;
                return Ok((row, false));
            }
            let row = build_row(conn, &input, Channel::Miniprogram, now)?;
            let row = insert_ticket(conn, row, &viewer, now)?;
            diesel::insert_into(intake_keys::table)
                .values((
                    intake_keys::api_client_id.eq(client.id.as_str()),
                    intake_keys::key.eq(key),
                    intake_keys::request_hash.eq(&hash),
                    intake_keys::ticket_id.eq(&row.id),
                    intake_keys::created_at.eq(now),
                ))
                .execute(conn)?;
            Ok((auto_dispatch(conn, policy, row, now)?, true))
        })
    };
    match attempt(conn) {
        // a concurrent request with the same key committed first: answer its ticket
        Err(AppError::Duplicate) => attempt(conn),
        other => other,
    }
}

// ---- reading --------------------------------------------------------------------------------

fn co_handlers(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<HashMap<String, Vec<(String, String)>>, AppError> {
    let rows: Vec<(String, String, String)> = ticket_co_handlers::table
        .filter(ticket_co_handlers::ticket_id.eq_any(ids))
        .select((
            ticket_co_handlers::ticket_id,
            ticket_co_handlers::department_id,
            ticket_co_handlers::department_path,
        ))
        .load(conn)?;
    let mut map: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for (ticket, dept, path) in rows {
        map.entry(ticket).or_default().push((dept, path));
    }
    Ok(map)
}

/// The co-handlers `(department id, path)` of one ticket.
fn co_handlers_of(
    conn: &mut DbConnection,
    ticket: &str,
) -> Result<Vec<(String, String)>, AppError> {
    Ok(co_handlers(conn, &[ticket.to_string()])?
        .remove(ticket)
        .unwrap_or_default())
}

fn facts(row: &TicketRow, co: &[(String, String)]) -> Facts {
    Facts {
        status: row.status.parse().unwrap_or(Status::Registered),
        confidential: row.confidential,
        lead_department_id: row.lead_department_id.clone(),
        lead_department_path: row.lead_department_path.clone(),
        co_department_ids: co.iter().map(|(d, _)| d.clone()).collect(),
        co_department_paths: co.iter().map(|(_, p)| p.clone()).collect(),
        status_before_return: row
            .status_before_return
            .as_deref()
            .and_then(|s| s.parse().ok()),
        extension_state: row.extension_state.clone(),
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
) -> Result<(TicketRow, Vec<(String, String)>), AppError> {
    let row = tickets::table
        .find(id.as_str())
        .first::<TicketRow>(conn)
        .optional()?
        .ok_or_else(|| not_found(id.as_str()))?;
    let co = co_handlers_of(conn, &row.id)?;
    if !state::can_see(&viewer.actor, &facts(&row, &co)) {
        return Err(not_found(id.as_str()));
    }
    Ok((row, co))
}

/// The view of a ticket its creator just took in (masked like every view).
pub fn intake_view(
    conn: &mut DbConnection,
    viewer: &Viewer,
    row: &TicketRow,
) -> Result<Ticket, AppError> {
    let co = co_handlers_of(conn, &row.id)?;
    Ok(view(row, &co, viewer))
}

/// The ticket view; contact data masked.
pub fn get(conn: &mut DbConnection, viewer: &Viewer, id: &TicketId) -> Result<Ticket, AppError> {
    let (row, co) = load_visible(conn, viewer, id)?;
    Ok(view(&row, &co, viewer))
}

/// A `report` seen by a department: the reporter's identity is never shown.
fn hides_reporter(row: &TicketRow, viewer: &Viewer) -> bool {
    row.kind == Kind::Report.as_str() && viewer.is_department_user()
}

/// The full contact data of a ticket, for a viewer whose role grants contact access, with a
/// reason; the answer is written to the access log with the fields it shows.
pub fn reveal(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &TicketId,
    reason: &str,
    now: NaiveDateTime,
) -> Result<RevealedContact, AppError> {
    let reason = reason.trim();
    if reason.is_empty() || validate::text_ok(reason, 200).is_err() {
        return Err(AppError::validation(
            "reason: 1-200 characters: why the contact data is needed",
        ));
    }
    let (row, _) = load_visible(conn, viewer, id)?;
    let Some(user) = viewer.user_id.clone() else {
        return Err(AppError::Forbidden("contact data is for staff".into()));
    };
    if !viewer.contact_access {
        return Err(AppError::Forbidden(
            "your roles do not grant access to citizens' contact data".into(),
        ));
    }
    if hides_reporter(&row, viewer) {
        return Err(AppError::Forbidden(
            "the reporter of a report is never revealed to departments".into(),
        ));
    }
    let hotline = !viewer.is_department_user();
    let raw_input = if hotline {
        let created: Option<String> = ticket_events::table
            .filter(ticket_events::ticket_id.eq(&row.id))
            .filter(ticket_events::seq.eq(1))
            .select(ticket_events::payload)
            .first(conn)
            .optional()?;
        created
            .and_then(|p| serde_json::from_str::<Value>(&p).ok())
            .and_then(|mut p| p.get_mut(RAW_INPUT).map(Value::take))
    } else {
        None
    };
    let open_id = row.citizen_open_id.clone().filter(|_| hotline);
    let fields: Vec<String> = [
        ("citizen_name", row.citizen_name.is_some()),
        ("citizen_phone", row.citizen_phone.is_some()),
        ("citizen_address", row.citizen_address.is_some()),
        ("open_id", open_id.is_some()),
        ("caller_number", row.caller_number.is_some()),
        (RAW_INPUT, raw_input.is_some()),
    ]
    .into_iter()
    .filter(|(_, present)| *present)
    .map(|(f, _)| f.to_string())
    .collect();
    if !fields.is_empty() {
        diesel::insert_into(access_log::table)
            .values((
                access_log::id.eq(db::new_id()),
                access_log::user_id.eq(&user),
                access_log::ticket_id.eq(&row.id),
                access_log::fields.eq(fields.join(",")),
                access_log::reason.eq(reason),
                access_log::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(RevealedContact {
        ticket_id: TicketId(row.id.clone()),
        number: row.number.clone(),
        citizen_name: row.citizen_name,
        citizen_phone: row.citizen_phone,
        citizen_address: row.citizen_address,
        open_id,
        caller_number: row.caller_number,
        raw_input,
        fields,
    })
}

fn view(row: &TicketRow, co: &[(String, String)], viewer: &Viewer) -> Ticket {
    let f = facts(row, co);
    let hide_reporter = hides_reporter(row, viewer);
    let shown = |value: &Option<String>, mask: fn(&str) -> String| {
        if hide_reporter {
            None
        } else {
            value.as_deref().map(mask)
        }
    };
    let citizen = Citizen {
        name: shown(&row.citizen_name, privacy::mask_name),
        phone: shown(&row.citizen_phone, privacy::mask_phone),
        address: shown(&row.citizen_address, privacy::mask_address),
        open_id: if viewer.is_department_user() {
            None
        } else {
            row.citizen_open_id.as_deref().map(privacy::mask_id)
        },
        anonymous: row.anonymous,
        masked: true,
        reporter_hidden: hide_reporter,
    };
    let caller_number = shown(&row.caller_number, privacy::mask_phone);
    Ticket::from_row(
        row,
        co,
        citizen,
        caller_number,
        state::allowed_actions(&viewer.actor, &f),
    )
}

/// Lists tickets the viewer may see, filtered; contact data is always masked in lists.
pub fn list(
    conn: &mut DbConnection,
    viewer: &Viewer,
    filter: &TicketFilter,
    page: &PageRequest,
) -> Result<Page<Ticket>, AppError> {
    let mut query = tickets::table.into_boxed();
    // visibility
    let supervisor =
        viewer.actor.roles.contains(Role::Supervisor) || viewer.actor.roles.contains(Role::Admin);
    if !supervisor {
        if viewer.is_department_user() {
            let Some(path) = viewer.actor.department_path.clone() else {
                return Ok(Page {
                    items: vec![],
                    next_cursor: None,
                });
            };
            let own = viewer.actor.department_id.clone().unwrap_or_default();
            let (lo, hi) = tree::subtree_range(&path);
            let co_tickets = ticket_co_handlers::table
                .filter(ticket_co_handlers::department_path.ge(lo.clone()))
                .filter(ticket_co_handlers::department_path.lt(hi.clone()))
                .select(ticket_co_handlers::ticket_id);
            query = query.filter(
                tickets::lead_department_path
                    .ge(lo)
                    .and(tickets::lead_department_path.lt(hi))
                    .or(tickets::id.eq_any(co_tickets)),
            );
            query = query.filter(
                tickets::confidential
                    .eq(false)
                    .or(tickets::lead_department_id.eq(own)),
            );
        } else {
            query = query.filter(tickets::confidential.eq(false));
        }
    }
    // queues
    match filter.queue {
        None => {}
        Some(Queue::Dispatch) => {
            query = query.filter(tickets::status.eq(Status::Registered.as_str()))
        }
        Some(Queue::ReturnReview) => {
            query = query.filter(tickets::status.eq(Status::ReturnPending.as_str()))
        }
        Some(Queue::Callback) => query = query.filter(tickets::status.eq(Status::Replied.as_str())),
        Some(q @ (Queue::ToSign | Queue::InProgress | Queue::Returned)) => {
            let own = viewer.actor.department_id.clone().ok_or_else(|| {
                AppError::bad_request(
                    "invalid_query",
                    "queue: department queues are for department staff",
                )
            })?;
            let status = match q {
                Queue::ToSign => Status::Dispatched,
                Queue::InProgress => Status::InProgress,
                _ => Status::ReturnPending,
            };
            query = query
                .filter(tickets::lead_department_id.eq(own))
                .filter(tickets::status.eq(status.as_str()));
        }
        Some(Queue::Mine) => {
            let me = viewer.user_id.clone().unwrap_or_default();
            query = query.filter(tickets::assignee_id.eq(me)).filter(
                tickets::status.eq_any([Status::InProgress.as_str(), Status::Dispatched.as_str()]),
            );
        }
    }
    if let Some(status) = filter.status {
        query = query.filter(tickets::status.eq(status.as_str()));
    }
    if let Some(d) = filter.department_id {
        let path = org::find_row(conn, &DepartmentId(d.to_string()))
            .when_missing(|| {
                AppError::bad_request("invalid_query", "department_id: no such department")
            })?
            .path;
        let (lo, hi) = tree::subtree_range(&path);
        query = query.filter(
            tickets::lead_department_path
                .ge(lo)
                .and(tickets::lead_department_path.lt(hi)),
        );
    }
    if let Some(c) = filter.category_id {
        let path = catalogue::find_row(conn, &CategoryId(c.to_string()))
            .when_missing(|| {
                AppError::bad_request("invalid_query", "category_id: no such category")
            })?
            .path;
        let ids = crate::db::schema::categories::table
            .filter(crate::db::schema::categories::path.ge(tree::subtree_range(&path).0))
            .filter(crate::db::schema::categories::path.lt(tree::subtree_range(&path).1))
            .select(crate::db::schema::categories::id.nullable());
        query = query.filter(tickets::category_id.eq_any(ids));
    }
    if let Some(r) = filter.region_id {
        let path = regions::find_row(conn, &RegionId(r.to_string()))
            .when_missing(|| AppError::bad_request("invalid_query", "region_id: no such region"))?
            .path;
        let ids = crate::db::schema::regions::table
            .filter(crate::db::schema::regions::path.ge(tree::subtree_range(&path).0))
            .filter(crate::db::schema::regions::path.lt(tree::subtree_range(&path).1))
            .select(crate::db::schema::regions::id.nullable());
        query = query.filter(tickets::region_id.eq_any(ids));
    }
    if let Some(k) = filter.kind {
        query = query.filter(tickets::kind.eq(k.as_str()));
    }
    if let Some(u) = filter.urgency {
        query = query.filter(tickets::urgency.eq(u.as_str()));
    }
    if let Some(c) = filter.channel {
        query = query.filter(tickets::channel.eq(c.as_str()));
    }
    if let Some(from) = filter.created_from {
        query = query.filter(tickets::created_at.ge(from.naive_utc()));
    }
    if let Some(to) = filter.created_to {
        query = query.filter(tickets::created_at.lt(to.naive_utc()));
    }
    if let Some(phone) = filter.phone.as_deref().filter(|p| !p.is_empty()) {
        if viewer.is_department_user() {
            return Err(AppError::Forbidden(
                "searching by phone number is for hotline staff".into(),
            ));
        }
        // the stored form: `138 1234 5678` and `+86 138-1234-5678` find `13812345678`
        let phone = crate::phone::parse(phone)
            .map_err(|e| AppError::bad_request("invalid_query", format!("phone: {e}")))?
            .into_string();
        query = query.filter(
            tickets::citizen_phone
                .eq(phone.clone())
                .or(tickets::caller_number.eq(phone)),
        );
    }
    if let Some(number) = filter.number.as_deref().filter(|n| !n.is_empty()) {
        query = query.filter(tickets::number.eq(number.to_string()));
    }
    if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
        let pattern = crate::db::contains_pattern(q);
        query = query.filter(
            tickets::title
                .like(pattern.clone())
                .or(tickets::description.like(pattern)),
        );
    }
    let newest_first = filter.order == Some(Order::Newest);
    if let Some(after) = page.after_key()? {
        query = if newest_first {
            query.filter(tickets::id.lt(after.to_string()))
        } else {
            query.filter(tickets::id.gt(after.to_string()))
        };
    }
    query = if newest_first {
        query.order(tickets::id.desc())
    } else {
        query.order(tickets::id.asc())
    };
    let rows: Vec<TicketRow> = query.limit(page.fetch_limit()).load(conn)?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut co = co_handlers(conn, &ids)?;
    Ok(Page::from_rows(rows, page, |r| vec![r.id.clone()])
        .map(|row| view(&row, &co.remove(&row.id).unwrap_or_default(), viewer)))
}

/// The event log of a ticket, oldest first; internal notes are shown to staff only.
pub fn events(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &TicketId,
    page: &PageRequest,
) -> Result<Page<Event>, AppError> {
    load_visible(conn, viewer, id)?;
    let mut query = ticket_events::table
        .filter(ticket_events::ticket_id.eq(id.as_str()))
        .into_boxed();
    if let Some(after) = page.after_key()? {
        let seq: i32 = after.parse().map_err(|_| {
            AppError::bad_request("invalid_cursor", "cursor: belongs to another list")
        })?;
        query = query.filter(ticket_events::seq.gt(seq));
    }
    let rows: Vec<EventRow> = query
        .order(ticket_events::seq.asc())
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(Page::from_rows(rows, page, |e| vec![e.seq.to_string()]).map(Event::from))
}

/// Open tickets of the same category and region, to merge duplicates at intake.
pub fn similar(
    conn: &mut DbConnection,
    viewer: &Viewer,
    category: &CategoryId,
    region: Option<&RegionId>,
) -> Result<Vec<Ticket>, AppError> {
    let open: Vec<&str> = Status::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| s.as_str())
        .collect();
    let mut query = tickets::table
        .filter(tickets::category_id.eq(category.as_str()))
        .filter(tickets::status.eq_any(open))
        .filter(tickets::confidential.eq(false))
        .into_boxed();
    if let Some(r) = region {
        query = query.filter(tickets::region_id.eq(r.as_str()));
    }
    let rows: Vec<TicketRow> = query.order(tickets::id.desc()).limit(20).load(conn)?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut co = co_handlers(conn, &ids)?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let c = co.remove(&r.id).unwrap_or_default();
            state::can_see(&viewer.actor, &facts(&r, &c)).then(|| view(&r, &c, viewer))
        })
        .collect())
}

// ---- transitions ----------------------------------------------------------------------------

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

fn active_department(
    conn: &mut DbConnection,
    field: &str,
    id: &DepartmentId,
) -> Result<org::DepartmentRow, AppError> {
    let row = org::referenced(conn, field, id)?;
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
) -> Result<Vec<(String, String)>, AppError> {
    diesel::delete(ticket_co_handlers::table.filter(ticket_co_handlers::ticket_id.eq(ticket)))
        .execute(conn)?;
    let mut added: Vec<(String, String)> = Vec::new();
    for id in ids {
        if id.as_str() == lead || added.iter().any(|(a, _)| *a == id.0) {
            continue;
        }
        let dept = active_department(conn, "co_department_ids", id)?;
        diesel::insert_into(ticket_co_handlers::table)
            .values((
                ticket_co_handlers::ticket_id.eq(ticket),
                ticket_co_handlers::department_id.eq(&dept.id),
                ticket_co_handlers::department_path.eq(&dept.path),
            ))
            .execute(conn)?;
        added.push((dept.id, dept.path));
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
        let locked: Vec<&str> = std::iter::once(id.as_str())
            .chain(into.map(TicketId::as_str))
            .collect();
        db::lock_tickets(conn, &locked)?;
        let (row, co) = load_visible(conn, viewer, id)?;
        if let Some(expected) = expected_version {
            if expected != row.version {
                return Err(AppError::Stale(format!(
                        "the ticket changed since you read it (your version {expected}, now {}); reload and retry",
                        row.version
                    )));
            }
        }
        let (row, co) = apply(conn, viewer, row, co, action, body, now)?;
        Ok(view(&row, &co, viewer))
    })
}

/// The effects of each action on the row (the state machine has already said yes).
/// Answers the updated row and its co-handlers.
fn apply(
    conn: &mut DbConnection,
    viewer: &Viewer,
    mut row: TicketRow,
    mut co: Vec<(String, String)>,
    action: Action,
    body: ActionBody,
    now: NaiveDateTime,
) -> Result<(TicketRow, Vec<(String, String)>), AppError> {
    let f = facts(&row, &co);
    let next = state::decide(&viewer.actor, &f, action).map_err(|r| refusal(r, &row.id, action))?;
    let from = row.status.clone();
    let mut payload = serde_json::Map::new();
    let mut public = false;
    let mut survivor: Option<TicketRow> = None;
    match action {
        Action::Dispatch | Action::ApproveReturn => {
            let (department, co_ids) = match &body.department_id {
                Some(d) => (
                    d.clone(),
                    body.co_department_ids.clone().unwrap_or_default(),
                ),
                None if action == Action::Dispatch => {
                    let routed = routing::route(conn, &routing_request(&row))?;
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
                    payload.insert("routing".into(), json!(first.reason));
                    (dept, first.co_handlers.into_iter().map(|d| d.id).collect())
                }
                None => {
                    return Err(AppError::validation(
                        "department_id: required to re-dispatch",
                    ))
                }
            };
            if action == Action::ApproveReturn
                && row.lead_department_id.as_deref() == Some(department.as_str())
            {
                return Err(AppError::validation("department_id: re-dispatch to another department than the one that returned it"));
            }
            let dept = active_department(conn, "department_id", &department)?;
            co = set_co_handlers(conn, &row.id, &dept.id, &co_ids)?;
            let added: Vec<&String> = co.iter().map(|(id, _)| id).collect();
            payload.insert("department_id".into(), json!(dept.id));
            payload.insert("co_department_ids".into(), json!(added));
            row.lead_department_id = Some(dept.id);
            row.lead_department_path = Some(dept.path);
            row.assignee_id = None;
            row.status_before_return = None;
            row.dispatched_at = Some(now);
            row.signed_at = None;
        }
        Action::DirectAnswer => {
            if row.kind != Kind::Consultation.as_str() {
                return Err(AppError::validation(
                    "direct answers are for consultations; dispatch the ticket instead",
                ));
            }
            let answer = text(&body.reply, "reply", action, 4000)?;
            payload.insert("reply".into(), json!(answer));
            row.reply = Some(answer);
            row.replied_at = Some(now);
            public = true;
        }
        Action::Sign => {
            row.signed_at = Some(now);
        }
        Action::Forward => {
            let target = required(&body.department_id, "department_id", action)?.clone();
            let dept = active_department(conn, "department_id", &target)?;
            let own = row.lead_department_path.clone().unwrap_or_default();
            if !(dept.path.starts_with(&own) && dept.path != own) {
                return Err(AppError::validation(
                    "department_id: forward only down to a sub-department of the lead department",
                ));
            }
            payload.insert("department_id".into(), json!(dept.id));
            payload.insert("from_department_id".into(), json!(row.lead_department_id));
            row.lead_department_id = Some(dept.id);
            row.lead_department_path = Some(dept.path);
            row.assignee_id = None;
            row.dispatched_at = Some(now);
            row.signed_at = None;
        }
        Action::Assign => {
            let assignee = required(&body.assignee_id, "assignee_id", action)?.clone();
            let user = crate::accounts::users::get(conn, &assignee)
                .when_missing(|| AppError::validation("assignee_id: no such user"))?;
            if user.department_id.as_ref().map(|d| d.as_str()) != row.lead_department_id.as_deref()
                || !user.active
            {
                return Err(AppError::validation(
                    "assignee_id: assign to an active member of the lead department",
                ));
            }
            let is_admin = viewer.actor.roles.contains(Role::DepartmentAdmin);
            if !is_admin && viewer.user_id.as_deref() != Some(assignee.as_str()) {
                return Err(AppError::Forbidden(
                    "department staff may assign tickets only to themselves".into(),
                ));
            }
            payload.insert("assignee_id".into(), json!(assignee.0));
            row.assignee_id = Some(assignee.0);
        }
        Action::Contribute => {
            let note = text(&body.text, "text", action, 4000)?;
            payload.insert("department_id".into(), json!(viewer.actor.department_id));
            payload.insert("text".into(), json!(note));
        }
        Action::Return => {
            let reason = text(&body.reason, "reason", action, 1000)?;
            payload.insert("reason".into(), json!(reason));
            payload.insert("department_id".into(), json!(row.lead_department_id));
            row.status_before_return = Some(row.status.clone());
        }
        Action::RejectReturn => {
            let reason = text(&body.reason, "reason", action, 1000)?;
            payload.insert("reason".into(), json!(reason));
            row.status_before_return = None;
        }
        Action::RequestExtension => {
            let days = *required(&body.days, "days", action)?;
            if !(1..=10).contains(&days) {
                return Err(AppError::validation("days: 1-10 working days"));
            }
            if row.urgency != Urgency::Normal.as_str() {
                return Err(AppError::validation(
                    "urgent and critical tickets cannot be extended",
                ));
            }
            let reason = text(&body.reason, "reason", action, 1000)?;
            payload.insert("days".into(), json!(days));
            payload.insert("reason".into(), json!(reason));
            row.extension_state = Some("requested".into());
            row.extension_days = Some(days);
        }
        Action::ApproveExtension | Action::RejectExtension => {
            if let Some(reason) = body.reason.as_deref().filter(|r| !r.trim().is_empty()) {
                payload.insert("reason".into(), json!(reason.trim()));
            }
            let approved = action == Action::ApproveExtension;
            payload.insert("days".into(), json!(row.extension_days));
            row.extension_state = Some(if approved { "approved" } else { "rejected" }.into());
        }
        Action::Reply => {
            let reply = text(&body.reply, "reply", action, 4000)?;
            payload.insert("reply".into(), json!(reply));
            row.reply = Some(reply);
            row.replied_at = Some(now);
            public = true;
        }
        Action::Redo => {
            let reason = text(&body.reason, "reason", action, 1000)?;
            payload.insert("reason".into(), json!(reason));
            row.replied_at = None;
        }
        Action::Close => {
            if let Some(result) = body.reason.as_deref().filter(|r| !r.trim().is_empty()) {
                payload.insert("result".into(), json!(result.trim()));
            }
            row.closed_at = Some(now);
        }
        Action::Merge => {
            let into = required(&body.into, "into", action)?.clone();
            if into.as_str() == row.id {
                return Err(AppError::validation(
                    "into: a ticket cannot be merged into itself",
                ));
            }
            let (target, _) = load_visible(conn, viewer, &into)
                .when_missing(|| AppError::validation("into: no such ticket"))?;
            let target_status: Status = target.status.parse().unwrap_or(Status::Closed);
            if !target_status.is_open() {
                return Err(AppError::validation(format!(
                    "into: the surviving ticket is {target_status}"
                )));
            }
            payload.insert("into".into(), json!(target.id));
            payload.insert("into_number".into(), json!(target.number));
            row.merged_into = Some(target.id.clone());
            row.closed_at = Some(now);
            survivor = Some(target);
        }
        Action::Cancel => {
            let reason = text(&body.reason, "reason", action, 1000)?;
            payload.insert("reason".into(), json!(reason));
            row.closed_at = Some(now);
        }
        Action::Note | Action::PublicNote => {
            let note = text(&body.text, "text", action, 4000)?;
            payload.insert("text".into(), json!(note));
            public = action == Action::PublicNote;
        }
    }
    if let Some(reason) = body.reason.as_deref().filter(|r| !r.trim().is_empty()) {
        payload.entry("reason").or_insert(json!(reason.trim()));
    }
    row.status = next.as_str().to_string();
    let previous_version = row.version;
    row.version += 1;
    row.updated_at = now;
    let changed = diesel::update(
        tickets::table
            .find(&row.id)
            .filter(tickets::version.eq(previous_version)),
    )
    .set(&row)
    .execute(conn)?;
    if changed == 0 {
        return Err(AppError::Stale(
            "the ticket changed meanwhile; reload and retry".into(),
        ));
    }
    let happened = Happened {
        action: action.as_str(),
        from: Some(&from),
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
        let status = target.status.clone();
        let payload = json!({"merged": row.id, "merged_number": row.number});
        let merged_in = Happened {
            action: "merged_in",
            from: Some(&status),
            payload,
            public: false,
        };
        insert_event(conn, &target, viewer, merged_in, now)?;
    }
    Ok((row, co))
}

// ---- access log and citizens ----------------------------------------------------------------

pub fn access_log(
    conn: &mut DbConnection,
    filter: &AccessLogFilter,
    page: &PageRequest,
) -> Result<Page<AccessLogEntry>, AppError> {
    let mut query = access_log::table.into_boxed();
    if let Some(t) = filter.ticket_id {
        query = query.filter(access_log::ticket_id.eq(t.to_string()));
    }
    if let Some(u) = filter.user_id {
        query = query.filter(access_log::user_id.eq(u.to_string()));
    }
    if let Some(after) = page.after_key()? {
        query = query.filter(access_log::id.lt(after.to_string()));
    }
    let rows: Vec<AccessLogRow> = query
        .order(access_log::id.desc())
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(Page::from_rows(rows, page, |r| vec![r.id.clone()]).map(AccessLogEntry::from))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_the_china_date() {
        let late_utc = chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
            .and_then(|d| d.and_hms_opt(16, 30, 0))
            .expect("time");
        assert_eq!(
            china_date(late_utc),
            "20261124",
            "00:30 next day in Beijing"
        );
        let early_utc = chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
            .and_then(|d| d.and_hms_opt(15, 59, 59))
            .expect("time");
        assert_eq!(china_date(early_utc), "20261123");
    }
}
