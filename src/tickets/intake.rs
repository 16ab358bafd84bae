//! Intake: a hotline call taken in by staff, a mini-program submission through its gateway
//! (idempotent by `Idempotency-Key`), validation of the input, and automatic dispatch.

use chrono::{NaiveDateTime, SubsecRound};
use diesel::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::model::*;
use super::state::Action;
use super::*;
use crate::auth::ApiClientPrincipal;
use crate::catalogue::{self, Attribute, AttributeType, TimeLimits};
use crate::db::schema::{intake_keys, ticket_events, tickets};
use crate::db::{self, DbConnection};
use crate::deadlines::Step;
use crate::error::AppError;
use crate::ids::{CategoryId, RegionId, TicketId};
use crate::routing::{self, CandidateSource, RoutingRequest};
use crate::vocab::{Channel, Status, Urgency};
use crate::{regions, validate};

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

/// A new ticket before it is written: its row, the contact data as typed where it was
/// normalised, and what intake needs of its category and region (read once, here).
struct Draft {
    row: TicketRow,
    raw: RawInput,
    /// The category's own time limits.
    own_limits: Option<TimeLimits>,
    /// The village its hot spots are counted in.
    cluster: Option<String>,
}

/// A category and a region by their ids, in one statement; `None` when either is missing.
fn category_and_region(
    conn: &mut DbConnection,
    category: &CategoryId,
    region: &RegionId,
) -> Result<Option<(catalogue::CategoryRow, regions::RegionRow)>, AppError> {
    use crate::db::schema::{categories, regions as region_table};
    Ok(categories::table
        .inner_join(region_table::table.on(region_table::id.eq(region.as_str())))
        .filter(categories::id.eq(category.as_str()))
        .select((categories::all_columns, region_table::all_columns))
        .first(conn)
        .optional()?)
}

/// Validates the input and builds the row of a new ticket (status `registered`).
fn build_row(
    conn: &mut DbConnection,
    input: &NewTicket,
    channel: Channel,
    now: NaiveDateTime,
) -> Result<Draft, AppError> {
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
    // the usual call names both: one statement reads them (each alone says which is missing)
    let mut named_region = None;
    let category = match (&input.category_id, &input.region_id) {
        (Some(c), Some(r)) => match category_and_region(conn, c, r)? {
            Some((category, region)) => {
                named_region = Some(region);
                Some(category)
            }
            None => Some(catalogue::referenced(conn, "category_id", c)?),
        },
        (Some(c), None) => Some(catalogue::referenced(conn, "category_id", c)?),
        (None, _) => None,
    };
    let own_limits = category
        .as_ref()
        .and_then(|c| deadlines::own_limits(c.time_limits.as_deref()));
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
    let region = match (&input.region_id, input.lat, input.lng) {
        (_, Some(_), None) | (_, None, Some(_)) => {
            return Err(AppError::validation("lat, lng: give both or neither"))
        }
        (Some(r), _, _) => match named_region {
            Some(region) => Some(region),
            None => Some(regions::referenced(conn, "region_id", r)?),
        },
        (None, Some(lat), Some(lng)) => regions::resolve(conn, lat, lng)?,
        (None, None, None) => None,
    };
    let cluster = region
        .as_ref()
        .map(|r| super::hotspots::cluster_of(&r.id, &r.level, r.parent_id.as_deref()));
    let region_id = region.map(|r| r.id);
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
        channel,
        kind,
        urgency: input.urgency.unwrap_or(Urgency::Normal),
        status: Status::Registered,
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
        next_due_at: None,
        callback_result: None,
        satisfaction: None,
        resolved: None,
        redo_count: 0,
        reopen_count: 0,
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
        // to the microsecond, as both databases keep it (the answer shows what a GET shows)
        call_started_at: call.started_at.map(|t| t.naive_utc().trunc_subsecs(6)),
        call_ended_at: call.ended_at.map(|t| t.naive_utc().trunc_subsecs(6)),
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
    Ok(Draft {
        row,
        raw,
        own_limits,
        cluster,
    })
}

/// Writes the new ticket, its `create` event, its first deadlines (`planned`) and its search
/// index row, together (one statement on PostgreSQL, `db::write_together`); `lock` is taken with
/// its number.
fn insert_ticket(
    conn: &mut DbConnection,
    (mut row, raw): (TicketRow, RawInput),
    planned: &[crate::tickets::deadlines::DeadlineRow],
    viewer: &Viewer,
    lock: Option<&str>,
    now: NaiveDateTime,
) -> Result<TicketRow, AppError> {
    row.number = next_number(conn, now, lock)?;
    row.created_by = viewer.user_id().map(str::to_string);
    row.api_client_id = viewer.api_client_id().map(str::to_string);
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
    let event = event_row(&row, viewer.event_actor(), &created, now);
    let document = super::search::document(&row.title, &row.description);
    let mut writes: Vec<Box<dyn db::Write + '_>> = vec![
        Box::new(diesel::insert_into(tickets::table).values(&row)),
        Box::new(diesel::insert_into(ticket_events::table).values(event)),
    ];
    writes.extend(crate::tickets::deadlines::inserts(planned));
    let search = super::search::new_ticket_row(conn, &row, &document);
    let indexed = search.is_some();
    writes.extend(search);
    db::write_together(conn, writes)?;
    if !indexed {
        super::search::index_document(conn, &row.id, document)?;
    }
    notify_event(conn, &row, &created, now)?;
    Ok(row)
}

/// A ticket a staff member just took in (`create`).
pub struct TakenIn {
    pub row: TicketRow,
    /// Its deadlines as written, when intake alone wrote it (no automatic dispatch): its view
    /// then needs nothing read back (`reads::intake_view`).
    pub(super) fresh: Option<Vec<crate::tickets::deadlines::DeadlineRow>>,
}

/// A staff member takes in a request (a hotline call, a walk-in, ...).
pub fn create(
    conn: &mut DbConnection,
    viewer: &Viewer,
    policy: &TicketPolicy,
    input: NewTicket,
    now: NaiveDateTime,
) -> Result<TakenIn, AppError> {
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
        let (row, planned) = take_in(conn, policy, viewer, &input, channel, now)?;
        let version = row.version;
        let row = auto_dispatch(conn, policy, row, now)?;
        let fresh = (row.version == version).then_some(planned);
        Ok(TakenIn { row, fresh })
    })
}

/// The ticket recorded, its hot-spot window counted, its dispatch deadline started: the row
/// and its deadlines as written.
fn take_in(
    conn: &mut DbConnection,
    policy: &TicketPolicy,
    viewer: &Viewer,
    input: &NewTicket,
    channel: Channel,
    now: NaiveDateTime,
) -> Result<(TicketRow, Vec<crate::tickets::deadlines::DeadlineRow>), AppError> {
    let mut draft = build_row(conn, input, channel, now)?;
    // the dispatch deadline is known before the row is written: the row carries it
    let planned = deadlines::plan(
        conn,
        &policy.deadlines,
        &draft.row,
        &[Step::Dispatch],
        draft.own_limits.as_ref(),
        now,
    )?;
    draft.row.next_due_at = planned.iter().map(|d| d.due_at).min();
    // the hot-spot decision of its cluster is serialised from here to the commit
    let watched = super::hotspots::watch(
        &policy.followup,
        draft.row.category_id.as_deref(),
        draft.cluster,
    );
    let lock = watched.as_ref().map(super::hotspots::Watched::lock_key);
    let row = insert_ticket(
        conn,
        (draft.row, draft.raw),
        &planned,
        viewer,
        lock.as_deref(),
        now,
    )?;
    if let Some(watched) = watched {
        super::hotspots::observe(conn, &policy.followup, &row, watched, now)?;
    }
    Ok((row, planned))
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
        &system_viewer(policy, now),
        row,
        Vec::new(),
        Action::Dispatch,
        body,
        now,
    )
    .map(|(row, _)| row)
}

pub(super) fn routing_request(row: &TicketRow) -> RoutingRequest {
    RoutingRequest {
        category_id: row.category_id.clone().map(CategoryId),
        region_id: row.region_id.clone().map(RegionId),
        lat: None,
        lng: None,
        kind: Some(row.kind),
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
    submit_as_client(
        conn,
        client,
        policy,
        Channel::Miniprogram,
        Some(key),
        input,
        now,
    )
}

/// An API client's submission on `channel` (the mini-program, Open311). With a `key`, retries
/// are safe: the same key with the same body answers the first ticket (`created = false`), with
/// another body a 409 `idempotency_key_reused`.
pub fn submit_as_client(
    conn: &mut DbConnection,
    client: &ApiClientPrincipal,
    policy: &TicketPolicy,
    channel: Channel,
    key: Option<&str>,
    input: NewTicket,
    now: NaiveDateTime,
) -> Result<(TicketRow, bool), AppError> {
    let hash = {
        let canonical = serde_json::to_string(&input).unwrap_or_default();
        Sha256::digest(canonical.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let viewer = Viewer::for_client(client, policy, now);
    let attempt = |conn: &mut DbConnection| {
        db::write_tx(conn, |conn| {
            let Some(key) = key else {
                let (row, _) = take_in(conn, policy, &viewer, &input, channel, now)?;
                return Ok((auto_dispatch(conn, policy, row, now)?, true));
            };
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
            let (row, _) = take_in(conn, policy, &viewer, &input, channel, now)?;
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
