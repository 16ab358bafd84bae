//! `/api/v1/routing-rules` (admins write, staff read), `/api/v1/routing/preview`, and bulk
//! `/api/v1/import/{dataset}` / `/api/v1/export/{dataset}`.

use actix_web::http::header;
use actix_web::{delete, get, patch, post};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{Principal, Role};
use crate::bulk::{self, Dataset, Format, ImportReport};
use crate::db;
use crate::error::{AppError, ErrorBody};
use crate::http::errors::payload_too_large;
use crate::http::json::Json;
use crate::ids::RuleId;
use crate::pagination::{Page, PageParams};
use crate::routing::{
    self, NewRule, RoutingRequest, RoutingResult, Rule, RuleChange, RuleChanges, RuleFilter,
};
use crate::state::AppState;

type Id = web::Path<uuid::Uuid>;

#[utoipa::path(tag = "routing", security(("bearer" = [])),
    params(RuleFilter, PageParams),
    responses((status = 200, description = "Rules in precedence order (priority, then id)", body = Page<Rule>)))]
#[get("/api/v1/routing-rules")]
pub async fn list_rules(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<RuleFilter>,
    page: web::Query<PageParams>,
) -> Result<web::Json<Page<Rule>>, AppError> {
    principal.user()?;
    let page = page.validate()?;
    let filter = filter.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| routing::list(c, &filter, &page)).await?,
    ))
}

#[utoipa::path(tag = "routing", security(("bearer" = [])),
    request_body = NewRule,
    responses(
        (status = 201, description = "Created (and recorded in the rule's history)", body = Rule),
        (status = 422, description = "Invalid field or unknown reference", body = ErrorBody),
    ))]
#[post("/api/v1/routing-rules")]
pub async fn create_rule(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<NewRule>,
) -> Result<HttpResponse, AppError> {
    let actor = principal.require_any_role(&[Role::Admin])?.id.clone();
    let now = state.clock.now();
    let input = body.into_inner();
    let rule = db::run(&state.pool, move |c| {
        routing::create(c, input.clone(), Some(&actor), now)
    })
    .await?;
    Ok(HttpResponse::Created().json(rule))
}

#[utoipa::path(tag = "routing", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Rule), (status = 404, body = ErrorBody)))]
#[get("/api/v1/routing-rules/{id}")]
pub async fn get_rule(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
) -> Result<web::Json<Rule>, AppError> {
    principal.user()?;
    let id = RuleId(id.into_inner().to_string());
    Ok(web::Json(
        db::run(&state.pool, move |c| routing::get(c, &id)).await?,
    ))
}

#[utoipa::path(tag = "routing", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), request_body = RuleChanges,
    responses((status = 200, description = "Updated (before/after recorded)", body = Rule), (status = 404, body = ErrorBody)))]
#[patch("/api/v1/routing-rules/{id}")]
pub async fn update_rule(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
    body: Json<RuleChanges>,
) -> Result<web::Json<Rule>, AppError> {
    let actor = principal.require_any_role(&[Role::Admin])?.id.clone();
    let id = RuleId(id.into_inner().to_string());
    let now = state.clock.now();
    let changes = body.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            routing::update(c, &id, changes.clone(), Some(&actor), now)
        })
        .await?,
    ))
}

#[utoipa::path(tag = "routing", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 204, description = "Deleted (the history keeps it)"), (status = 404, body = ErrorBody)))]
#[delete("/api/v1/routing-rules/{id}")]
pub async fn delete_rule(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
) -> Result<HttpResponse, AppError> {
    let actor = principal.require_any_role(&[Role::Admin])?.id.clone();
    let id = RuleId(id.into_inner().to_string());
    let now = state.clock.now();
    db::run(&state.pool, move |c| {
        routing::delete(c, &id, Some(&actor), now)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "routing", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), PageParams),
    responses((status = 200, description = "Who changed the rule, when, before and after", body = Page<RuleChange>)))]
#[get("/api/v1/routing-rules/{id}/history")]
pub async fn rule_history(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
    page: web::Query<PageParams>,
) -> Result<web::Json<Page<RuleChange>>, AppError> {
    principal.require_any_role(&[Role::Admin, Role::Supervisor])?;
    let id = RuleId(id.into_inner().to_string());
    let page = page.validate()?;
    Ok(web::Json(
        db::run(&state.pool, move |c| routing::history(c, &id, &page)).await?,
    ))
}

#[utoipa::path(tag = "routing", security(("bearer" = [])),
    request_body = RoutingRequest,
    responses(
        (status = 200, description = "Ranked candidates with the reason for each; the first is the choice", body = RoutingResult),
        (status = 422, description = "Unknown category or region, or a bad point", body = ErrorBody),
    ))]
#[post("/api/v1/routing/preview")]
pub async fn preview(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<RoutingRequest>,
) -> Result<web::Json<RoutingResult>, AppError> {
    principal.user()?;
    let request = body.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| routing::route(c, &request)).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `csv` or `json`; for imports the default follows the Content-Type.
    pub format: Option<Format>,
}

#[utoipa::path(tag = "routing", security(("bearer" = [])),
    params(("dataset" = Dataset, Path), FormatQuery),
    request_body(content = String, description = "CSV with a header row (`text/csv`) or a JSON array (`application/json`)", content_type = "text/csv"),
    responses(
        (status = 200, description = "Every row applied", body = ImportReport),
        (status = 422, description = "Nothing applied; `errors` lists each row at fault (`import_failed`)", body = ErrorBody),
    ))]
#[post("/api/v1/import/{dataset}")]
pub async fn import(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    dataset: web::Path<Dataset>,
    query: web::Query<FormatQuery>,
    mut payload: web::Payload,
) -> Result<web::Json<ImportReport>, AppError> {
    let actor = principal.require_any_role(&[Role::Admin])?.id.clone();
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = match (query.format, content_type) {
        (Some(f), _) => f,
        (None, ct) if ct.starts_with("application/json") => Format::Json,
        (None, ct) if ct.starts_with("text/csv") || ct.starts_with("text/plain") => Format::Csv,
        (None, ct) => {
            return Err(AppError::Unsupported {
                code: "unsupported_media_type",
                message: format!("send text/csv or application/json (or ?format=), got '{ct}'"),
            })
        }
    };
    let limit = state.settings.server.max_import_bytes;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            AppError::bad_request("bad_request", format!("cannot read the body: {e}"))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(payload_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    // the edge rule for text (validate::text_ok): no NUL anywhere in an import
    if body.contains(&0) {
        return Err(AppError::validation(
            "body: NUL characters are not accepted",
        ));
    }
    let dataset = dataset.into_inner();
    let now = state.clock.now();
    let report = db::run(&state.pool, move |c| {
        bulk::import(c, dataset, format, &body, Some(&actor), now)
    })
    .await?;
    Ok(web::Json(report))
}

#[utoipa::path(tag = "routing", security(("bearer" = [])),
    params(("dataset" = Dataset, Path), FormatQuery),
    responses((status = 200, description = "The dataset in the import format (CSV by default)", body = String, content_type = "text/csv")))]
#[get("/api/v1/export/{dataset}")]
pub async fn export(
    state: web::Data<AppState>,
    principal: Principal,
    dataset: web::Path<Dataset>,
    query: web::Query<FormatQuery>,
) -> Result<HttpResponse, AppError> {
    principal.require_any_role(&[Role::Admin, Role::Supervisor])?;
    let dataset = dataset.into_inner();
    let format = query.format.unwrap_or(Format::Csv);
    let bytes = db::run(&state.pool, move |c| bulk::export(c, dataset, format)).await?;
    let (content_type, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Json => ("application/json", "json"),
    };
    let name = serde_json::to_value(dataset)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.{ext}\""),
        ))
        .body(bytes))
}
