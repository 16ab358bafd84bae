//! `/api/v1/api-clients`: channel gateways and their keys (admins).

use actix_web::{get, patch, post};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::accounts::api_clients::{self, ApiClient, CreatedApiClient, NewApiClient};
use crate::auth::{Principal, Role};
use crate::db;
use crate::error::{AppError, ErrorBody};
use crate::http::json::Json;
use crate::ids::ApiClientId;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiClientChanges {
    /// `false` refuses the client's key from now on.
    pub active: bool,
}

#[utoipa::path(tag = "api-clients", security(("bearer" = [])), params(PageParams),
    responses(
        (status = 200, description = "API clients in creation order", body = Page<ApiClient>),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
#[get("/api/v1/api-clients")]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<PageParams>,
) -> Result<web::Json<Page<ApiClient>>, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    let page = query.validate()?;
    Ok(web::Json(
        db::run(&state.pool, move |c| api_clients::list(c, &page)).await?,
    ))
}

#[utoipa::path(tag = "api-clients", security(("bearer" = [])),
    request_body = NewApiClient,
    responses(
        (status = 201, description = "Created; `api_key` is shown this once", body = CreatedApiClient),
        (status = 409, description = "Name taken (`name_taken`)", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
#[post("/api/v1/api-clients")]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<NewApiClient>,
) -> Result<HttpResponse, AppError> {
    let admin = principal.require_any_role(&[Role::Admin])?.id.clone();
    let now = state.clock.now();
    let input = body.into_inner();
    let created = db::run(&state.pool, move |c| {
        api_clients::create(c, input.clone(), Some(&admin), now)
    })
    .await?;
    Ok(HttpResponse::Created().json(created))
}

#[utoipa::path(tag = "api-clients", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "API client id")),
    responses(
        (status = 200, description = "The client", body = ApiClient),
        (status = 404, description = "No such client", body = ErrorBody),
    ))]
#[get("/api/v1/api-clients/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<uuid::Uuid>,
) -> Result<web::Json<ApiClient>, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    let id = ApiClientId(id.into_inner().to_string());
    Ok(web::Json(
        db::run(&state.pool, move |c| api_clients::get(c, &id)).await?,
    ))
}

#[utoipa::path(tag = "api-clients", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "API client id")), request_body = ApiClientChanges,
    responses(
        (status = 200, description = "Updated", body = ApiClient),
        (status = 404, description = "No such client", body = ErrorBody),
    ))]
#[patch("/api/v1/api-clients/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<uuid::Uuid>,
    body: Json<ApiClientChanges>,
) -> Result<web::Json<ApiClient>, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    let id = ApiClientId(id.into_inner().to_string());
    let active = body.active;
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            api_clients::set_active(c, &id, active)
        })
        .await?,
    ))
}
