//! Open311 GeoReport v2 (docs/open311.md): the published categories as services, tickets as
//! service requests, submissions through the ordinary intake path (channel `open311`). This
//! module knows nothing of HTTP: it reads parameters as name/value pairs and answers document
//! trees (`render::Node`) that `http::open311` renders as XML or JSON.
//!
//! Privacy: nothing personal leaves here. No names, phones, e-mails, device or account ids;
//! reports (举报) and confidential tickets are never listed; the location is published at the
//! configured precision; digit runs and e-mail addresses in the description are masked.

pub mod render;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::catalogue::{Attribute, AttributeType};
use crate::db::schema::{
    categories, departments, regions, ticket_attachments, ticket_deadlines, ticket_events, tickets,
};
use crate::db::DbConnection;
use crate::error::AppError;
use crate::vocab::{Kind, Status};
use render::Node;

/// `[open311]` in the configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Open311Settings {
    /// Category codes published as services; empty: every active category without active
    /// sub-categories.
    pub services: Vec<String>,
    /// When set, a request's `jurisdiction_id` (if sent) must equal it.
    pub jurisdiction_id: String,
    /// How precisely locations are published: `exact`, `rounded` (coordinates rounded to
    /// `round_decimals`, the address replaced by the region's name), `region` (the region's
    /// name only) or `none`.
    pub location: LocationPrecision,
    /// Decimals kept by `rounded`: 3 is about 100 m.
    pub round_decimals: u32,
    /// The public base URL of this server (discovery and `media_url`), e.g.
    /// `https://12345.example.gov.cn`.
    pub base_url: String,
    /// Discovery: whom to contact, and where to ask for an API key.
    pub contact: String,
    pub key_service: String,
    /// The discovery document's `changeset` (when the service list last changed).
    pub changeset: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LocationPrecision {
    Exact,
    Rounded,
    Region,
    None,
}

/// An error in the specification's terms: its HTTP status and its description.
#[derive(Debug, Clone, PartialEq)]
pub struct Open311Error {
    pub code: u16,
    pub description: String,
}

impl Open311Error {
    pub fn new(code: u16, description: impl Into<String>) -> Open311Error {
        Open311Error {
            code,
            description: description.into(),
        }
    }

    pub fn node(&self) -> Node {
        Node::List(
            "error",
            vec![Node::Obj(vec![
                ("code", Node::Int(i64::from(self.code))),
                ("description", Node::text(self.description.clone())),
            ])],
        )
    }
}

impl From<diesel::result::Error> for Open311Error {
    fn from(e: diesel::result::Error) -> Open311Error {
        AppError::from(e).into()
    }
}

impl From<AppError> for Open311Error {
    fn from(e: AppError) -> Open311Error {
        let code = match &e {
            AppError::BadRequest { .. }
            | AppError::Validation { .. }
            | AppError::Unsupported { .. }
            | AppError::Conflict { .. }
            | AppError::Import { .. }
            | AppError::Stale(_)
            | AppError::Duplicate => 400,
            AppError::Unauthorized { .. } | AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::TooManyRequests { .. } => 429,
            AppError::Http { status, .. } => status.as_u16(),
            AppError::Unavailable(_) => 503,
            AppError::Internal(_) | AppError::Config(_) => 500,
        };
        let description = match &e {
            AppError::Internal(detail) | AppError::Config(detail) => {
                tracing::error!(error = %detail, "internal error (Open311)");
                "internal error; the details are in the server log".to_string()
            }
            AppError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "dependency unavailable (Open311)");
                "the service is temporarily unavailable; try again shortly".to_string()
            }
            other => other.to_string(),
        };
        Open311Error { code, description }
    }
}

/// W3C date-time in the calendar's time zone, with its offset: `2025-11-11T09:00:00+08:00`.
pub fn w3c(tz: Tz, t: NaiveDateTime) -> String {
    tz.from_utc_datetime(&t)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

fn parse_w3c(name: &str, value: &str) -> Result<NaiveDateTime, Open311Error> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.naive_utc())
        .map_err(|_| {
            Open311Error::new(
                400,
                format!("{name}: expected a W3C date-time such as 2025-11-11T09:00:00+08:00"),
            )
        })
}

/// The discovery document.
pub fn discovery(settings: &Open311Settings) -> Node {
    let base = settings.base_url.trim_end_matches('/');
    Node::Obj(vec![
        ("changeset", Node::text(settings.changeset.clone())),
        ("contact", Node::text(settings.contact.clone())),
        ("key_service", Node::text(settings.key_service.clone())),
        (
            "endpoints",
            Node::List(
                "endpoint",
                vec![Node::Obj(vec![
                    (
                        "specification",
                        Node::text("http://wiki.open311.org/GeoReport_v2"),
                    ),
                    ("url", Node::text(format!("{base}/open311/v2"))),
                    ("changeset", Node::text(settings.changeset.clone())),
                    ("type", Node::text("production")),
                    (
                        "formats",
                        Node::List(
                            "format",
                            vec![Node::text("text/xml"), Node::text("application/json")],
                        ),
                    ),
                ])],
            ),
        ),
    ])
}

#[derive(Debug, Clone, Queryable)]
struct CategoryFacts {
    id: String,
    code: String,
    name: String,
    description: String,
    keywords: String,
    attributes: String,
    parent_id: Option<String>,
}

/// The published categories, in code order, with their parents' names (the `group`).
fn published(
    conn: &mut DbConnection,
    settings: &Open311Settings,
) -> Result<Vec<(CategoryFacts, Option<String>)>, AppError> {
    let all: Vec<CategoryFacts> = categories::table
        .filter(categories::active.eq(true))
        .order(categories::code.asc())
        .select((
            categories::id,
            categories::code,
            categories::name,
            categories::description,
            categories::keywords,
            categories::attributes,
            categories::parent_id,
        ))
        .load(conn)?;
    let names: HashMap<String, String> =
        all.iter().map(|c| (c.id.clone(), c.name.clone())).collect();
    let parents: std::collections::HashSet<String> =
        all.iter().filter_map(|c| c.parent_id.clone()).collect();
    Ok(all
        .iter()
        .filter(|c| {
            if settings.services.is_empty() {
                !parents.contains(&c.id)
            } else {
                settings.services.iter().any(|s| s == &c.code)
            }
        })
        .map(|c| {
            let group = c.parent_id.as_ref().and_then(|p| names.get(p).cloned());
            (c.clone(), group)
        })
        .collect())
}

fn attributes_of(c: &CategoryFacts) -> Vec<Attribute> {
    crate::serde_util::from_json_text::<Vec<Attribute>>(&c.attributes)
}

/// `GET services`.
pub fn services(conn: &mut DbConnection, settings: &Open311Settings) -> Result<Node, AppError> {
    let items = published(conn, settings)?
        .into_iter()
        .map(|(c, group)| {
            let keywords: Vec<String> = crate::serde_util::from_json_text(&c.keywords);
            Node::Obj(vec![
                ("service_code", Node::text(c.code.clone())),
                ("service_name", Node::text(c.name.clone())),
                ("description", Node::text(c.description.clone())),
                ("metadata", Node::Bool(!attributes_of(&c).is_empty())),
                ("type", Node::text("realtime")),
                ("keywords", Node::text(keywords.join(", "))),
                ("group", Node::opt_text(group)),
            ])
        })
        .collect();
    Ok(Node::List("service", items))
}

fn service(
    conn: &mut DbConnection,
    settings: &Open311Settings,
    code: &str,
) -> Result<CategoryFacts, Open311Error> {
    published(conn, settings)?
        .into_iter()
        .map(|(c, _)| c)
        .find(|c| c.code == code)
        .ok_or_else(|| Open311Error::new(404, format!("service_code {code} not found")))
}

/// `GET services/{service_code}`: the service definition.
pub fn definition(
    conn: &mut DbConnection,
    settings: &Open311Settings,
    code: &str,
) -> Result<Node, Open311Error> {
    let c = service(conn, settings, code)?;
    let mut attributes = attributes_of(&c);
    attributes.sort_by_key(|a| a.order);
    let items = attributes
        .into_iter()
        .map(|a| {
            Node::Obj(vec![
                ("variable", Node::Bool(a.variable)),
                ("code", Node::text(a.code)),
                ("datatype", Node::text(datatype(a.datatype))),
                ("required", Node::Bool(a.required)),
                (
                    "datatype_description",
                    Node::opt_text(a.datatype_description),
                ),
                ("order", Node::Int(i64::from(a.order))),
                ("description", Node::text(a.description)),
                (
                    "values",
                    Node::List(
                        "value",
                        a.values
                            .into_iter()
                            .map(|v| {
                                Node::Obj(vec![
                                    ("key", Node::text(v.key)),
                                    ("name", Node::text(v.name)),
                                ])
                            })
                            .collect(),
                    ),
                ),
            ])
        })
        .collect();
    Ok(Node::Obj(vec![
        ("service_code", Node::text(c.code)),
        ("attributes", Node::List("attribute", items)),
    ]))
}

fn datatype(t: AttributeType) -> &'static str {
    match t {
        AttributeType::String => "string",
        AttributeType::Number => "number",
        AttributeType::Datetime => "datetime",
        AttributeType::Text => "text",
        AttributeType::Singlevaluelist => "singlevaluelist",
        AttributeType::Multivaluelist => "multivaluelist",
    }
}

/// Parameters as sent: the first non-empty value of each name (an empty value is no value), and
/// every value of repeated names (`attribute[CODE][]`).
#[derive(Debug, Default, Clone)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
            .collect()
    }

    /// Checks `jurisdiction_id` when one is configured.
    pub fn check_jurisdiction(&self, settings: &Open311Settings) -> Result<(), Open311Error> {
        match self.get("jurisdiction_id") {
            Some(j) if !settings.jurisdiction_id.is_empty() && j != settings.jurisdiction_id => {
                Err(Open311Error::new(
                    404,
                    format!("jurisdiction_id {j} is not served here"),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// The ticket columns a service request shows.
#[derive(Debug, Queryable)]
struct RequestFacts {
    id: String,
    number: String,
    status: Status,
    category_id: Option<String>,
    region_id: Option<String>,
    address: Option<String>,
    lat: Option<f64>,
    lng: Option<f64>,
    description: String,
    lead_department_id: Option<String>,
    reply: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

type RequestColumns = (
    tickets::id,
    tickets::number,
    tickets::status,
    tickets::category_id,
    tickets::region_id,
    tickets::address,
    tickets::lat,
    tickets::lng,
    tickets::description,
    tickets::lead_department_id,
    tickets::reply,
    tickets::created_at,
    tickets::updated_at,
);

const REQUEST_COLUMNS: RequestColumns = (
    tickets::id,
    tickets::number,
    tickets::status,
    tickets::category_id,
    tickets::region_id,
    tickets::address,
    tickets::lat,
    tickets::lng,
    tickets::description,
    tickets::lead_department_id,
    tickets::reply,
    tickets::created_at,
    tickets::updated_at,
);

/// The tickets Open311 may show at all: not reports, not confidential, not merged away.
fn listable<'a>() -> tickets::BoxedQuery<'a, crate::db::MultiBackend> {
    tickets::table
        .filter(tickets::kind.ne(Kind::Report))
        .filter(tickets::confidential.eq(false))
        .filter(tickets::status.ne(Status::Merged))
        .into_boxed()
}

/// One citizen-facing event: action, status after it, its note, when.
type HistoryEntry<'a> = (&'a str, Status, Option<String>, NaiveDateTime);

/// The actions that can be citizen-facing events (`notify::classify` decides).
const PUBLIC_ACTIONS: [&str; 10] = [
    "create",
    "dispatch",
    "reply",
    "direct_answer",
    "redo",
    "reopen",
    "close",
    "cancel",
    "merge",
    "public_note",
];

/// What the citizen is told of (the webhooks of citizen updates): the public history.
const CITIZEN_EVENTS: [crate::notify::EventType; 6] = [
    crate::notify::EventType::TicketRegistered,
    crate::notify::EventType::TicketDispatched,
    crate::notify::EventType::TicketReplied,
    crate::notify::EventType::TicketReopened,
    crate::notify::EventType::TicketClosed,
    crate::notify::EventType::TicketNote,
];

fn open_or_closed(status: Status) -> &'static str {
    if status.is_open() {
        "open"
    } else {
        "closed"
    }
}

/// `GET requests/{id}` (a list of one).
pub fn request(
    conn: &mut DbConnection,
    settings: &Open311Settings,
    tz: Tz,
    number: &str,
    extensions: bool,
) -> Result<Node, Open311Error> {
    let rows: Vec<RequestFacts> = listable()
        .filter(tickets::number.eq(number))
        .select(REQUEST_COLUMNS)
        .load(conn)?;
    if rows.is_empty() {
        return Err(Open311Error::new(
            404,
            format!("service_request_id {number} not found"),
        ));
    }
    Ok(Node::List(
        "request",
        describe(conn, settings, tz, rows, extensions)?,
    ))
}

/// `GET requests` with the specification's filters and this server's extensions.
pub fn requests(
    conn: &mut DbConnection,
    settings: &Open311Settings,
    tz: Tz,
    now: NaiveDateTime,
    params: &Params,
) -> Result<Node, Open311Error> {
    let mut q = listable();
    let extensions = params.get("extensions") == Some("true");
    if let Some(ids) = params.get("service_request_id") {
        let ids: Vec<String> = ids
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        // the specification: other filters are ignored when ids are given
        let rows: Vec<RequestFacts> = q
            .filter(tickets::number.eq_any(ids))
            .order((tickets::created_at.desc(), tickets::id.desc()))
            .limit(1000)
            .select(REQUEST_COLUMNS)
            .load(conn)?;
        return Ok(Node::List(
            "request",
            describe(conn, settings, tz, rows, extensions)?,
        ));
    }
    let end = match params.get("end_date") {
        Some(v) => parse_w3c("end_date", v)?,
        None => now,
    };
    let start = match params.get("start_date") {
        Some(v) => parse_w3c("start_date", v)?,
        None => end - chrono::Duration::days(90),
    };
    if end < start {
        return Err(Open311Error::new(400, "end_date: before start_date"));
    }
    if end - start > chrono::Duration::days(90) {
        return Err(Open311Error::new(
            400,
            "start_date and end_date: at most 90 days apart",
        ));
    }
    q = q
        .filter(tickets::created_at.ge(start))
        .filter(tickets::created_at.le(end));
    if let Some(codes) = params.get("service_code") {
        let codes: Vec<String> = codes.split(',').map(|s| s.trim().to_string()).collect();
        let ids = categories::table
            .filter(categories::code.eq_any(codes))
            .select(categories::id.nullable());
        q = q.filter(tickets::category_id.eq_any(ids));
    }
    if let Some(status) = params.get("status") {
        let mut wanted = Vec::new();
        for s in status.split(',').map(str::trim) {
            match s {
                "open" => wanted.extend(Status::ALL.iter().filter(|s| s.is_open())),
                "closed" => wanted.extend([Status::Closed, Status::Cancelled]),
                other => {
                    return Err(Open311Error::new(
                        400,
                        format!("status: {other} is neither open nor closed"),
                    ))
                }
            }
        }
        q = q.filter(tickets::status.eq_any(wanted));
    }
    if let Some(after) = params.get("updated_after") {
        q = q.filter(tickets::updated_at.gt(parse_w3c("updated_after", after)?));
    }
    if let Some(bbox) = params.get("bbox") {
        let corners: Vec<f64> = bbox
            .split(',')
            .map(|s| s.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad_bbox())?;
        let [min_lng, min_lat, max_lng, max_lat] = corners[..] else {
            return Err(bad_bbox());
        };
        q = q
            .filter(tickets::lng.between(min_lng, max_lng))
            .filter(tickets::lat.between(min_lat, max_lat));
    }
    let page_size = match params.get("page_size") {
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| Open311Error::new(400, "page_size: 1 to 1000"))?,
        None => 1000,
    };
    let page = match params.get("page") {
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=100_000).contains(n))
            .ok_or_else(|| Open311Error::new(400, "page: a number from 1"))?,
        None => 1,
    };
    let rows: Vec<RequestFacts> = q
        .order((tickets::created_at.desc(), tickets::id.desc()))
        .limit(page_size)
        .offset((page - 1) * page_size)
        .select(REQUEST_COLUMNS)
        .load(conn)?;
    Ok(Node::List(
        "request",
        describe(conn, settings, tz, rows, extensions)?,
    ))
}

fn bad_bbox() -> Open311Error {
    Open311Error::new(400, "bbox: min_long,min_lat,max_long,max_lat")
}

/// The requests as documents: the names, deadlines, notes and photos of all rows in one query
/// each (no query per row).
fn describe(
    conn: &mut DbConnection,
    settings: &Open311Settings,
    tz: Tz,
    rows: Vec<RequestFacts>,
    extensions: bool,
) -> Result<Vec<Node>, AppError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let category_ids: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.category_id.as_deref())
        .collect();
    let cats: HashMap<String, (String, String)> = categories::table
        .filter(categories::id.eq_any(&category_ids))
        .select((categories::id, categories::code, categories::name))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(id, code, name)| (id, (code, name)))
        .collect();
    let dept_ids: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.lead_department_id.as_deref())
        .collect();
    let depts: HashMap<String, String> = departments::table
        .filter(departments::id.eq_any(&dept_ids))
        .select((departments::id, departments::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let region_ids: Vec<&str> = rows.iter().filter_map(|r| r.region_id.as_deref()).collect();
    let region_names: HashMap<String, String> = regions::table
        .filter(regions::id.eq_any(&region_ids))
        .select((regions::id, regions::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    // the latest handling deadline of each ticket
    let mut expected: HashMap<String, NaiveDateTime> = HashMap::new();
    for (ticket, due) in ticket_deadlines::table
        .filter(ticket_deadlines::ticket_id.eq_any(&ids))
        .filter(ticket_deadlines::step.eq("handle"))
        .order(ticket_deadlines::started_at.asc())
        .select((ticket_deadlines::ticket_id, ticket_deadlines::due_at))
        .load::<(String, NaiveDateTime)>(conn)?
    {
        expected.insert(ticket, due);
    }
    // the citizen-facing events (those the gateways are told of): notes and the history
    let events: Vec<(
        String,
        String,
        Option<Status>,
        Status,
        String,
        NaiveDateTime,
    )> = ticket_events::table
        .filter(ticket_events::ticket_id.eq_any(&ids))
        .filter(ticket_events::action.eq_any(PUBLIC_ACTIONS))
        .order((ticket_events::ticket_id.asc(), ticket_events::seq.asc()))
        .select((
            ticket_events::ticket_id,
            ticket_events::action,
            ticket_events::from_status,
            ticket_events::to_status,
            ticket_events::payload,
            ticket_events::created_at,
        ))
        .load(conn)?;
    let mut history: HashMap<&str, Vec<HistoryEntry>> = HashMap::new();
    for (ticket, action, from, to, payload, at) in &events {
        let payload: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
        let citizen_facing = crate::notify::classify(action, *from, *to, &payload)
            .webhooks
            .iter()
            .any(|e| CITIZEN_EVENTS.contains(e));
        if !citizen_facing {
            continue;
        }
        let note = payload
            .get("text")
            .or_else(|| payload.get("reply"))
            .and_then(|v| v.as_str())
            .map(str::to_string);
        history
            .entry(ticket.as_str())
            .or_default()
            .push((action.as_str(), *to, note, *at));
    }
    // the citizen's own photos, sent through a channel
    let mut media: HashMap<String, String> = HashMap::new();
    for (ticket, id) in ticket_attachments::table
        .inner_join(tickets::table)
        .filter(ticket_attachments::ticket_id.eq_any(&ids))
        .filter(ticket_attachments::uploaded_by.eq(tickets::api_client_id.nullable()))
        .filter(ticket_attachments::content_type.like("image/%"))
        .order(ticket_attachments::created_at.desc())
        .select((ticket_attachments::ticket_id, ticket_attachments::id))
        .load::<(String, String)>(conn)?
    {
        // newest first: the latest photo of each ticket
        media.entry(ticket).or_insert(id);
    }
    let base = settings.base_url.trim_end_matches('/');
    Ok(rows
        .iter()
        .map(|r| {
            let (code, name) = r
                .category_id
                .as_ref()
                .and_then(|c| cats.get(c).cloned())
                .map_or((Node::Null, Node::Null), |(c, n)| {
                    (Node::text(c), Node::text(n))
                });
            let notes = history.get(r.id.as_str());
            // the reply once there is one, else the latest public note
            let status_notes = r
                .reply
                .clone()
                .or_else(|| {
                    notes.and_then(|n| n.iter().rev().find_map(|(_, _, note, _)| note.clone()))
                })
                .map(|n| mask_contacts(&n));
            let region = r.region_id.as_ref().and_then(|id| region_names.get(id));
            let (address, lat, lng) = match settings.location {
                LocationPrecision::Exact => (r.address.clone().or(region.cloned()), r.lat, r.lng),
                LocationPrecision::Rounded => {
                    let f = 10f64.powi(i32::try_from(settings.round_decimals).unwrap_or(3));
                    (
                        region.cloned(),
                        r.lat.map(|v| (v * f).round() / f),
                        r.lng.map(|v| (v * f).round() / f),
                    )
                }
                LocationPrecision::Region => (region.cloned(), None, None),
                LocationPrecision::None => (None, None, None),
            };
            let mut fields = vec![
                ("service_request_id", Node::text(r.number.clone())),
                ("status", Node::text(open_or_closed(r.status))),
                ("status_notes", Node::opt_text(status_notes)),
                ("service_name", name),
                ("service_code", code),
                ("description", Node::text(mask_contacts(&r.description))),
                (
                    "agency_responsible",
                    Node::opt_text(
                        r.lead_department_id
                            .as_ref()
                            .and_then(|d| depts.get(d).cloned()),
                    ),
                ),
                ("service_notice", Node::Null),
                ("requested_datetime", Node::text(w3c(tz, r.created_at))),
                ("updated_datetime", Node::text(w3c(tz, r.updated_at))),
                (
                    "expected_datetime",
                    Node::opt_text(expected.get(&r.id).map(|t| w3c(tz, *t))),
                ),
                ("address", Node::opt_text(address)),
                (
                    "address_id",
                    Node::opt_text(
                        (settings.location != LocationPrecision::None)
                            .then(|| r.region_id.clone())
                            .flatten(),
                    ),
                ),
                ("zipcode", Node::Null),
                ("lat", Node::opt_float(lat)),
                ("long", Node::opt_float(lng)),
                (
                    "media_url",
                    Node::opt_text(
                        media
                            .get(&r.id)
                            .map(|a| format!("{base}/open311/v2/media/{a}")),
                    ),
                ),
            ];
            if extensions {
                let items = notes
                    .map(|n| {
                        n.iter()
                            .map(|(action, to, note, at)| {
                                Node::Obj(vec![
                                    ("datetime", Node::text(w3c(tz, *at))),
                                    ("status", Node::text(open_or_closed(*to))),
                                    ("action", Node::text(*action)),
                                    ("note", Node::opt_text(note.as_deref().map(mask_contacts))),
                                ])
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                fields.push((
                    "extended_attributes",
                    Node::Obj(vec![("status_history", Node::List("entry", items))]),
                ));
            }
            Node::Obj(fields)
        })
        .collect())
}

/// Masks what looks like a phone number (a run of 7 or more digits) or an e-mail address in
/// free text published through Open311.
pub fn mask_contacts(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let is_digit = |c: char| c.is_ascii_digit() || ('０'..='９').contains(&c);
    let is_sep = |c: char| matches!(c, ' ' | '-' | '－' | '.' | '+' | '＋');
    let mut masked = chars.clone();
    // a run of digits, possibly broken by single separators (138 1234 5678, +86-138-…)
    let mut i = 0;
    while i < chars.len() {
        if !is_digit(chars[i]) {
            i += 1;
            continue;
        }
        let (start, mut end, mut digits) = (i, i, 0);
        let mut j = i;
        while j < chars.len() {
            if is_digit(chars[j]) {
                digits += 1;
                end = j + 1;
                j += 1;
            } else if is_sep(chars[j]) && j + 1 < chars.len() && is_digit(chars[j + 1]) {
                j += 1;
            } else {
                break;
            }
        }
        if digits >= 7 {
            for c in masked.iter_mut().take(end).skip(start) {
                if is_digit(*c) {
                    *c = '*';
                }
            }
        }
        i = end.max(i + 1);
    }
    let text: String = masked.into_iter().collect();
    // e-mail addresses: the whole word
    let mut out = String::with_capacity(text.len());
    for word in text.split_inclusive(|c: char| c.is_whitespace() || "，。,;；、".contains(c)) {
        let bare = word.trim_end_matches(|c: char| c.is_whitespace() || "，。,;；、".contains(c));
        if bare.contains('@') && bare.contains('.') {
            out.push_str("***");
            out.push_str(&word[bare.len()..]);
        } else {
            out.push_str(word);
        }
    }
    out
}

/// `GET tokens/{token}`: a token is answered with its service request at once (requests are
/// created synchronously; the token is the ticket's id).
pub fn token(conn: &mut DbConnection, token: &str) -> Result<Node, Open311Error> {
    let number: Option<String> = listable()
        .filter(tickets::id.eq(token))
        .select(tickets::number)
        .first(conn)
        .optional()?;
    let number =
        number.ok_or_else(|| Open311Error::new(404, format!("token {token} not found")))?;
    Ok(Node::List(
        "request",
        vec![Node::Obj(vec![
            ("service_request_id", Node::text(number)),
            ("token", Node::text(token)),
        ])],
    ))
}

/// A citizen's photo sent with an Open311 request, if the public may see it: (path under the
/// attachments directory, content type).
pub fn media(conn: &mut DbConnection, id: &str) -> Result<(String, String), Open311Error> {
    let found: Option<(String, String, String)> = ticket_attachments::table
        .inner_join(tickets::table)
        .filter(ticket_attachments::id.eq(id))
        .filter(ticket_attachments::uploaded_by.eq(tickets::api_client_id.nullable()))
        .filter(ticket_attachments::content_type.like("image/%"))
        .filter(tickets::kind.ne(Kind::Report))
        .filter(tickets::confidential.eq(false))
        .filter(tickets::status.ne(Status::Merged))
        .select((
            ticket_attachments::sha256,
            ticket_attachments::content_type,
            ticket_attachments::ticket_id,
        ))
        .first(conn)
        .optional()?;
    let (sha, content_type, _) =
        found.ok_or_else(|| Open311Error::new(404, format!("media {id} not found")))?;
    Ok((sha, content_type))
}

/// Converts the form's `attribute[CODE]` / `attribute[CODE][]` fields to the answers intake
/// validates, typed by the service definition (a number is a JSON number, a multi-value list
/// an array).
pub fn answers(
    definitions: &[Attribute],
    params: &Params,
) -> Result<serde_json::Map<String, serde_json::Value>, Open311Error> {
    let mut out = serde_json::Map::new();
    for def in definitions {
        let single = params.get(&format!("attribute[{}]", def.code));
        let many = params.all(&format!("attribute[{}][]", def.code));
        let value = match def.datatype {
            AttributeType::Multivaluelist => {
                let mut values: Vec<serde_json::Value> =
                    many.iter().map(|v| serde_json::json!(v)).collect();
                if let Some(s) = single {
                    values.push(serde_json::json!(s));
                }
                if values.is_empty() {
                    continue;
                }
                serde_json::Value::Array(values)
            }
            AttributeType::Number => match single.or(many.first().copied()) {
                Some(v) => serde_json::Number::from_f64(v.parse::<f64>().map_err(|_| {
                    Open311Error::new(400, format!("attribute[{}]: expected a number", def.code))
                })?)
                .map(serde_json::Value::Number)
                .ok_or_else(|| {
                    Open311Error::new(400, format!("attribute[{}]: expected a number", def.code))
                })?,
                None => continue,
            },
            _ => match single.or(many.first().copied()) {
                Some(v) => serde_json::json!(v),
                None => continue,
            },
        };
        out.insert(def.code.clone(), value);
    }
    // an attribute the definition does not know is an error, not silently dropped
    for (k, _) in &params.0 {
        if let Some(code) = k
            .strip_prefix("attribute[")
            .map(|r| r.trim_end_matches("[]").trim_end_matches(']'))
        {
            if !definitions.iter().any(|d| d.code == code) {
                return Err(Open311Error::new(
                    400,
                    format!("attribute[{code}]: not an attribute of this service"),
                ));
            }
        }
    }
    Ok(out)
}

/// The category of a `service_code` given in a submission, with its attribute definitions.
pub fn submission_service(
    conn: &mut DbConnection,
    settings: &Open311Settings,
    code: Option<&str>,
) -> Result<(String, String, Vec<Attribute>), Open311Error> {
    let code = code.ok_or_else(|| Open311Error::new(400, "service_code: required"))?;
    let c = service(conn, settings, code)
        .map_err(|_| Open311Error::new(400, format!("service_code: {code} is not a service")))?;
    let defs = attributes_of(&c);
    Ok((c.id, c.name, defs))
}

/// Resolves an `address_id` (a region's id or code) to a region id.
pub fn region_of(conn: &mut DbConnection, address_id: &str) -> Result<String, Open311Error> {
    regions::table
        .filter(regions::id.eq(address_id).or(regions::code.eq(address_id)))
        .select(regions::id)
        .first::<String>(conn)
        .optional()?
        .ok_or_else(|| Open311Error::new(400, format!("address_id: {address_id} is not known")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_masked() {
        assert_eq!(
            mask_contacts("电话13812345678，邮箱 a.b@example.com 3号楼"),
            "电话***********，邮箱 *** 3号楼"
        );
        assert_eq!(mask_contacts("停水2天"), "停水2天");
        assert_eq!(
            mask_contacts("回电 138 1234 5678 或 +86-138-1234-5678，3号楼"),
            "回电 *** **** **** 或 +**-***-****-****，3号楼"
        );
    }

    #[test]
    fn w3c_dates_carry_the_offset() {
        let tz: Tz = "Asia/Shanghai".parse().expect("tz");
        let t = chrono::NaiveDate::from_ymd_opt(2025, 11, 11)
            .and_then(|d| d.and_hms_opt(1, 0, 0))
            .expect("time");
        assert_eq!(w3c(tz, t), "2025-11-11T09:00:00+08:00");
    }
}
