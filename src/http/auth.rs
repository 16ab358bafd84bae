//! `/api/v1/auth/*` and `/api/v1/me`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::client_info;
use crate::accounts::sessions::{self, TokenPair};
use crate::accounts::users::{self, User};
use crate::auth::{ApiClientPrincipal, Principal};
use crate::db;
use crate::error::{AppError, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// Who the caller is.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Me {
    User(User),
    ApiClient(ApiClientPrincipal),
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenPair),
        (status = 401, description = "Wrong username or password (`invalid_credentials`) or disabled account", body = ErrorBody),
        (status = 429, description = "Too many failed logins for the account or address (`too_many_attempts`)", body = ErrorBody),
    ))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<web::Json<TokenPair>, AppError> {
    let client = client_info(&req, state.settings.server.trust_forwarded_for);
    let LoginRequest { username, password } = body.into_inner();
    let now = state.clock.now();
    let st = state.clone();
    let pair = db::run(&state.pool, move |c| {
        sessions::login(
            c,
            &st.session_settings(),
            username.trim(),
            &password,
            &client,
            now,
        )
    })
    .await?;
    Ok(web::Json(pair))
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair; the presented refresh token is spent", body = TokenPair),
        (status = 401, description = "Invalid, expired or reused refresh token", body = ErrorBody),
    ))]
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> Result<web::Json<TokenPair>, AppError> {
    let now = state.clock.now();
    let st = state.clone();
    let token = body.into_inner().refresh_token;
    let pair = db::run(&state.pool, move |c| {
        sessions::refresh(c, &st.session_settings(), &token, now)
    })
    .await?;
    Ok(web::Json(pair))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "The session is ended: its access and refresh tokens stop working"),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn logout(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, AppError> {
    let session = principal.user()?.session_id.clone();
    let now = state.clock.now();
    db::run(&state.pool, move |c| sessions::logout(c, &session, now)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The signed-in user or API client", body = Me),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn me(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<Me>, AppError> {
    match principal {
        Principal::User(u) => {
            let user = db::run(&state.pool, move |c| users::get(c, &u.id)).await?;
            Ok(web::Json(Me::User(user)))
        }
        Principal::ApiClient(c) => Ok(web::Json(Me::ApiClient(c))),
    }
}

#[utoipa::path(post, path = "/api/v1/me/password", tag = "auth", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Password changed; every session of the account is ended"),
        (status = 403, description = "current_password is wrong", body = ErrorBody),
        (status = 422, description = "The new password breaks the policy", body = ErrorBody),
    ))]
pub async fn change_password(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<ChangePasswordRequest>,
) -> Result<HttpResponse, AppError> {
    let id = principal.user()?.id.clone();
    let body = body.into_inner();
    let now = state.clock.now();
    db::run(&state.pool, move |c| {
        users::change_own_password(c, &id, &body.current_password, &body.new_password, now)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
