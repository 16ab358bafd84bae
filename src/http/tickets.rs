//! `/api/v1/tickets`: intake, views, queues, the action commands, the event log; the access log;
//! and the citizen status lookup for the mini-program gateway.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{get, post};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{Principal, Role, Scope};
use crate::db;
use crate::error::{AppError, ErrorBody};
use crate::http::json::Json;
use crate::ids::{CategoryId, RegionId, TicketId};
use crate::pagination::{Page, PageParams};
use crate::state::AppState;
use crate::tickets::attachments::{self, Attachment, Upload};
use crate::tickets::model::{
    AccessLogEntry, AccessLogFilter, ActionBody, CitizenTicket, Event, NewTicket, RevealRequest,
    RevealedContact, Ticket, TicketFilter,
};
use crate::tickets::state::Action;
use crate::tickets::{self, Viewer};

fn with_etag(mut response: actix_web::HttpResponseBuilder, ticket: &Ticket) -> HttpResponse {
    response
        .insert_header(header::ETag(header::EntityTag::new_strong(
            ticket.version.to_string(),
        )))
        .json(ticket)
}

/// `If-Match: "3"` (or `W/"3"`) → 3, through actix's typed header; `*` means any version.
fn if_match(req: &HttpRequest) -> Result<Option<i32>, AppError> {
    if !req.headers().contains_key(header::IF_MATCH) {
        return Ok(None);
    }
    let invalid = || {
        AppError::bad_request(
            "invalid_header",
            "If-Match: expected the ticket version from its ETag, e.g. \"3\"",
        )
    };
    use actix_web::http::header::Header;
    match header::IfMatch::parse(req).map_err(|_| invalid())? {
        header::IfMatch::Any => Ok(None),
        header::IfMatch::Items(tags) => match tags.as_slice() {
            [tag] => tag.tag().parse::<i32>().map(Some).map_err(|_| invalid()),
            _ => Err(invalid()),
        },
    }
}

/// The caller as a ticket viewer (staff only; the department path came with authentication).
pub(crate) fn staff_viewer(
    state: &web::Data<AppState>,
    principal: &Principal,
) -> Result<Viewer, AppError> {
    Ok(Viewer::for_user(
        principal.user()?,
        &state.tickets,
        state.clock.now(),
    ))
}

#[utoipa::path(tag = "tickets", security(("bearer" = []), ("api_key" = [])),
    request_body = NewTicket,
    params(("Idempotency-Key" = Option<String>, Header, description = "Required for API clients: a retry with the same key and body answers the same ticket")),
    responses(
        (status = 201, description = "Created (staff: the ticket; API clients: the citizen's view)", body = Ticket),
        (status = 200, description = "API client retry with a known Idempotency-Key: the ticket made the first time", body = CitizenTicket),
        (status = 409, description = "The Idempotency-Key was used with another body (`idempotency_key_reused`)", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
#[post("/api/v1/tickets")]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    body: Json<NewTicket>,
) -> Result<HttpResponse, AppError> {
    let input = body.into_inner();
    let now = state.clock.now();
    let policy = state.tickets.clone();
    match &principal {
        Principal::ApiClient(client) => {
            principal.require_scope(Scope::TicketsSubmit)?;
            let key = req
                .headers()
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .trim()
                .to_string();
            let client = client.clone();
            let (row, created) = db::run(&state.pool, move |c| {
                tickets::submit(c, &client, &policy, &key, input.clone(), now)
            })
            .await?;
            let view = CitizenTicket::new(&row, Vec::new());
            Ok(if created {
                HttpResponse::Created().json(view)
            } else {
                HttpResponse::Ok().json(view)
            })
        }
        Principal::User(_) => {
            let viewer = staff_viewer(&state, &principal)?;
            let ticket = db::run(&state.pool, move |c| {
                let taken = tickets::create(c, &viewer, &policy, input.clone(), now)?;
                tickets::intake_view(c, &viewer, taken)
            })
            .await?;
            Ok(with_etag(HttpResponse::Created(), &ticket))
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// The text to find in titles and descriptions (1-100 characters).
    pub q: String,
    /// Hits to answer, 1-100 (default 20).
    pub limit: Option<usize>,
}

#[utoipa::path(tag = "tickets", security(("bearer" = [])),
    params(SearchQuery),
    responses(
        (status = 200, description = "The tickets the caller may see whose title or description contains `q`, by relevance, with the match highlighted in 【】", body = Vec<tickets::search::SearchHit>),
        (status = 422, description = "An empty or over-long `q`", body = ErrorBody),
    ))]
#[get("/api/v1/tickets/search")]
pub async fn search(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<SearchQuery>,
) -> Result<web::Json<Vec<tickets::search::SearchHit>>, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let SearchQuery { q, limit } = query.into_inner();
    let limit = limit.unwrap_or(20).clamp(1, 100);
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            tickets::search::search(c, &viewer, &q, limit)
        })
        .await?,
    ))
}

#[utoipa::path(tag = "tickets", security(("bearer" = [])),
    params(TicketFilter, PageParams),
    responses(
        (status = 200, description = "Tickets the caller may see; contact data masked", body = Page<Ticket>),
    ))]
#[get("/api/v1/tickets")]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<TicketFilter>,
    page: web::Query<PageParams>,
) -> Result<web::Json<Page<Ticket>>, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let page = page.validate()?;
    let filter = filter.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            tickets::list(c, &viewer, &filter, &page)
        })
        .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SimilarQuery {
    pub category_id: uuid::Uuid,
    pub region_id: Option<uuid::Uuid>,
    /// Only tickets whose title or description contains this text (full-text index, as `q`
    /// of the list), e.g. a key word of the call being taken.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[utoipa::path(tag = "tickets", security(("bearer" = [])),
    params(SimilarQuery),
    responses((status = 200, description = "Open tickets of the same category (and region), newest first: merge candidates", body = Page<Ticket>)))]
#[get("/api/v1/tickets/similar")]
pub async fn similar(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<SimilarQuery>,
) -> Result<web::Json<Page<Ticket>>, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let query = query.into_inner();
    let category = CategoryId(query.category_id.to_string());
    let region = query.region_id.map(|r| RegionId(r.to_string()));
    let q = query.q;
    if q.as_deref().is_some_and(|q| q.chars().count() > 100) {
        return Err(AppError::validation("q: at most 100 characters"));
    }
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .validate()?;
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            tickets::similar(c, &viewer, &category, region.as_ref(), q.as_deref(), &page)
        })
        .await?,
    ))
}

#[utoipa::path(tag = "tickets", security(("bearer" = [])),
    responses(
        (status = 200, description = "Overdue and soon-due tickets by lead department (a department: its subtree; supervisors: all), most overdue first", body = Vec<tickets::OverdueCount>),
    ))]
#[get("/api/v1/tickets/overdue-summary")]
pub async fn overdue_summary(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<Vec<tickets::OverdueCount>>, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    Ok(web::Json(
        db::run(&state.pool, move |c| tickets::overdue_summary(c, &viewer)).await?,
    ))
}

#[utoipa::path(tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The ticket, with the actions the caller may take; `ETag` carries the version. Contact data is masked; `POST .../reveal` shows it", body = Ticket),
        (status = 404, description = "No such ticket, or not visible to the caller", body = ErrorBody),
    ))]
#[get("/api/v1/tickets/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let id = TicketId(id.into_inner().to_string());
    let ticket = db::run(&state.pool, move |c| tickets::get(c, &viewer, &id)).await?;
    Ok(with_etag(HttpResponse::Ok(), &ticket))
}

#[utoipa::path(tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), request_body = RevealRequest,
    responses(
        (status = 200, description = "The full contact data; written to the access log with the reason and the fields shown. `Cache-Control: no-store`", body = RevealedContact),
        (status = 403, description = "The caller's roles grant no contact access, or the ticket is a report and the caller a department", body = ErrorBody),
        (status = 404, description = "No such ticket, or not visible to the caller", body = ErrorBody),
        (status = 422, description = "No reason given", body = ErrorBody),
    ))]
#[post("/api/v1/tickets/{id}/reveal")]
pub async fn reveal(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<uuid::Uuid>,
    body: Json<RevealRequest>,
) -> Result<HttpResponse, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let id = TicketId(id.into_inner().to_string());
    let now = state.clock.now();
    let reason = body.into_inner().reason;
    let contact = db::run(&state.pool, move |c| {
        tickets::reveal(c, &viewer, &id, &reason, now)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(contact))
}

#[utoipa::path(tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), PageParams),
    responses((status = 200, description = "The append-only event log, oldest first", body = Page<Event>)))]
#[get("/api/v1/tickets/{id}/events")]
pub async fn events(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<uuid::Uuid>,
    page: web::Query<PageParams>,
) -> Result<web::Json<Page<Event>>, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let id = TicketId(id.into_inner().to_string());
    let page = page.validate()?;
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            tickets::events(c, &viewer, &id, &page)
        })
        .await?,
    ))
}

#[utoipa::path(tag = "tickets", security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid),
        ("action" = Action, Path, description = "The command"),
        ("If-Match" = Option<String>, Header, description = "The version the caller last read (its ETag); a stale one answers 412"),
    ),
    request_body(content = Option<ActionBody>, description = "The fields the action needs; none for `sign`", content_type = "application/json"),
    responses(
        (status = 200, description = "The updated ticket; `ETag` carries the new version", body = Ticket),
        (status = 403, description = "The caller's role or department may not take this action", body = ErrorBody),
        (status = 404, description = "No such ticket, or not visible to the caller", body = ErrorBody),
        (status = 409, description = "Not possible in the current state (`illegal_transition`, naming the state and the allowed actions)", body = ErrorBody),
        (status = 412, description = "Stale If-Match (`version_mismatch`)", body = ErrorBody),
        (status = 422, description = "A field the action needs is missing or invalid", body = ErrorBody),
    ))]
#[post("/api/v1/tickets/{id}/{action}")]
pub async fn act(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    path: web::Path<(uuid::Uuid, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (id, action) = path.into_inner();
    let action = Action::parse(&action)
        .ok_or_else(|| AppError::NotFound(format!("no ticket action '{action}'")))?;
    let expected = if_match(&req)?;
    let viewer = staff_viewer(&state, &principal)?;
    let id = TicketId(id.to_string());
    let now = state.clock.now();
    let body = action_body(&req, &body)?;
    let ticket = db::run(&state.pool, move |c| {
        tickets::act(c, &viewer, &id, action, body.clone(), expected, now)
    })
    .await?;
    Ok(with_etag(HttpResponse::Ok(), &ticket))
}

/// The action body is optional (`sign` needs none); when present it must be JSON.
fn action_body(req: &HttpRequest, bytes: &[u8]) -> Result<ActionBody, AppError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(ActionBody::default());
    }
    let content_type = crate::http::json::content_type(req);
    if !content_type.starts_with("application/json") {
        return Err(crate::http::json::unsupported_content_type(&content_type));
    }
    crate::http::json::parse(bytes)
}

#[utoipa::path(tag = "tickets", security(("bearer" = [])),
    params(AccessLogFilter, PageParams),
    responses(
        (status = 200, description = "Unmasked reads of personal data, newest first", body = Page<AccessLogEntry>),
        (status = 403, description = "Not a supervisor", body = ErrorBody),
    ))]
#[get("/api/v1/access-log")]
pub async fn access_log(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<AccessLogFilter>,
    page: web::Query<PageParams>,
) -> Result<web::Json<Page<AccessLogEntry>>, AppError> {
    principal.require_any_role(&[Role::Supervisor, Role::Admin])?;
    let page = page.validate()?;
    let filter = filter.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| tickets::access_log(c, &filter, &page)).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OpenIdQuery {
    /// The citizen's WeChat open id.
    pub open_id: String,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[utoipa::path(tag = "tickets", security(("api_key" = [])),
    params(OpenIdQuery),
    responses(
        (status = 200, description = "The citizen's tickets, newest first: status, public progress, reply", body = Page<CitizenTicket>),
        (status = 403, description = "Not an API client with the `tickets:read` scope", body = ErrorBody),
    ))]
#[get("/api/v1/citizen/tickets")]
pub async fn citizen_list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<OpenIdQuery>,
) -> Result<web::Json<Page<CitizenTicket>>, AppError> {
    principal.require_scope(Scope::TicketsRead)?;
    let query = query.into_inner();
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .validate()?;
    let open_id = query.open_id;
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            tickets::citizen_tickets(c, &open_id, &page)
        })
        .await?,
    ))
}

#[utoipa::path(tag = "tickets", security(("api_key" = [])),
    params(("id" = String, Path, format = Uuid), OpenIdQuery),
    responses(
        (status = 200, description = "One of the citizen's tickets", body = CitizenTicket),
        (status = 404, description = "No such ticket for this open id", body = ErrorBody),
    ))]
#[get("/api/v1/citizen/tickets/{id}")]
pub async fn citizen_get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<uuid::Uuid>,
    query: web::Query<OpenIdQuery>,
) -> Result<web::Json<CitizenTicket>, AppError> {
    principal.require_scope(Scope::TicketsRead)?;
    let id = TicketId(id.into_inner().to_string());
    let open_id = query.into_inner().open_id;
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            tickets::citizen_ticket(c, &open_id, &id)
        })
        .await?,
    ))
}

async fn any_viewer(
    state: &web::Data<AppState>,
    principal: &Principal,
) -> Result<Viewer, AppError> {
    match principal {
        Principal::ApiClient(client) => {
            principal.require_scope(Scope::TicketsSubmit)?;
            Ok(Viewer::for_client(
                client,
                &state.tickets,
                state.clock.now(),
            ))
        }
        Principal::User(_) => staff_viewer(state, principal),
    }
}

#[utoipa::path(tag = "tickets", security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, format = Uuid)),
    request_body(content = String, content_type = "multipart/form-data", description = "One or more file parts (JPEG, PNG, GIF, WebP or PDF)"),
    responses(
        (status = 201, description = "Stored; one `attach` event per file", body = Vec<Attachment>),
        (status = 409, description = "More than `tickets.attachments_per_ticket` files (`too_many_attachments`), or the ticket is closed", body = ErrorBody),
        (status = 413, description = "A file over `tickets.attachment_max_bytes` (`payload_too_large`)", body = ErrorBody),
        (status = 415, description = "Not an accepted type by content (`unsupported_attachment_type`)", body = ErrorBody),
    ))]
#[post("/api/v1/tickets/{id}/attachments")]
pub async fn upload(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<uuid::Uuid>,
    mut multipart: Multipart,
) -> Result<HttpResponse, AppError> {
    let viewer = any_viewer(&state, &principal).await?;
    let id = TicketId(id.into_inner().to_string());
    // refuse before reading the files when the caller may not add any
    {
        let (viewer, id) = (viewer.clone(), id.clone());
        let per_ticket = state.settings.tickets.attachments_per_ticket;
        db::run(&state.pool, move |c| {
            attachments::check_can_attach(c, &viewer, &id, per_ticket).map(|_| ())
        })
        .await?;
    }
    let max = state.settings.tickets.attachment_max_bytes;
    let per_ticket = state.settings.tickets.attachments_per_ticket;
    let mut uploads = Vec::new();
    while let Some(field) = multipart.next().await {
        let mut field =
            field.map_err(|e| AppError::bad_request("bad_multipart", format!("multipart: {e}")))?;
        let Some(filename) = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(str::to_string)
        else {
            continue; // not a file part
        };
        if uploads.len() >= per_ticket {
            return Err(AppError::conflict(
                "too_many_attachments",
                format!("at most {per_ticket} files per ticket"),
            ));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk
                .map_err(|e| AppError::bad_request("bad_multipart", format!("multipart: {e}")))?;
            if bytes.len() + chunk.len() > max {
                return Err(crate::http::errors::payload_too_large(max));
            }
            bytes.extend_from_slice(&chunk);
        }
        uploads.push(Upload { filename, bytes });
    }
    let data_dir = state.settings.data_dir.clone();
    let now = state.clock.now();
    let added = db::run_once(&state.pool, move |c| {
        attachments::attach(c, &viewer, &id, uploads, &data_dir, per_ticket, now)
    })
    .await?;
    Ok(HttpResponse::Created().json(added))
}

#[utoipa::path(tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, description = "The ticket's files", body = Vec<Attachment>), (status = 404, body = ErrorBody)))]
#[get("/api/v1/tickets/{id}/attachments")]
pub async fn list_attachments(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<uuid::Uuid>,
) -> Result<web::Json<Vec<Attachment>>, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let id = TicketId(id.into_inner().to_string());
    Ok(web::Json(
        db::run(&state.pool, move |c| attachments::list(c, &viewer, &id)).await?,
    ))
}

#[utoipa::path(tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ("attachment_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The file, with its detected content type", content_type = "application/octet-stream"),
        (status = 404, description = "No such file, or the ticket is not visible to the caller", body = ErrorBody),
    ))]
#[get("/api/v1/tickets/{id}/attachments/{attachment_id}")]
pub async fn download(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let (id, attachment_id) = path.into_inner();
    let id = TicketId(id.to_string());
    let attachment = db::run(&state.pool, move |c| {
        attachments::get(c, &viewer, &id, &attachment_id.to_string())
    })
    .await?;
    let file = attachments::blob_path(&state.settings.data_dir, &attachment.sha256);
    let bytes = web::block(move || std::fs::read(file))
        .await
        .map_err(|_| AppError::Internal("attachment read was cancelled".into()))?
        .map_err(|e| AppError::Internal(format!("attachment {} unreadable: {e}", attachment.id)))?;
    // safe images inline, anything else (PDF) as a download; the name was cleaned at upload
    let disposition = if attachments::is_inline_safe(&attachment.content_type) {
        "inline"
    } else {
        "attachment"
    };
    let disposition = header::ContentDisposition {
        disposition: if disposition == "inline" {
            header::DispositionType::Inline
        } else {
            header::DispositionType::Attachment
        },
        parameters: vec![header::DispositionParam::FilenameExt(
            header::ExtendedValue {
                charset: header::Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: attachment.filename.clone().into_bytes(),
            },
        )],
    };
    Ok(HttpResponse::Ok()
        .content_type(attachment.content_type.as_str())
        .insert_header(disposition)
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes))
}
