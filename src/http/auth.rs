//! `/api/v1/auth/*` and `/api/v1/me`.

use actix_web::http::header;
use actix_web::{get, post};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::client_info;
use crate::accounts::sessions::{self, TokenPair};
use crate::accounts::throttle;
use crate::accounts::users::{self, User};
use crate::auth::{password, ApiClientPrincipal, Principal};
use crate::db;
use crate::error::{AppError, ErrorBody};
use crate::http::json::Json;
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

#[utoipa::path(tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenPair),
        (status = 401, description = "Wrong username or password, unknown or disabled account: all `invalid_credentials`", body = ErrorBody),
        (status = 429, description = "Too many failed logins for the account or address (`too_many_attempts`)", body = ErrorBody),
    ))]
#[post("/api/v1/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, AppError> {
    let client = client_info(&req, state.settings.server.trust_forwarded_for);
    let LoginRequest { username, password } = body.into_inner();
    let username = username.trim().to_string();
    if username.chars().count() > users::MAX_USERNAME_CHARS
        || password.chars().count() > password::MAX_PASSWORD_CHARS
    {
        // no such account can exist: answer as for a wrong password, without touching the throttle
        return Err(AppError::unauthorized(
            "invalid_credentials",
            "wrong username or password",
        ));
    }
    let now = state.clock.now();
    let (st, name, cl) = (state.clone(), username.clone(), client.clone());
    let user = db::run(&state.pool, move |c| {
        sessions::begin_login(c, &st.session_settings(), &name, &cl, now)
    })
    .await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let verified = web::block(move || password::verify_or_dummy(&password, stored.as_deref()))
        .await
        .map_err(|_| AppError::Internal("password check was cancelled".into()))?;
    let st = state.clone();
    let pair = db::run(&state.pool, move |c| {
        sessions::finish_login(
            c,
            &st.session_settings(),
            &username,
            user.clone(),
            verified,
            &client,
            now,
        )
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(pair))
}

#[utoipa::path(tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair; the presented refresh token is spent", body = TokenPair),
        (status = 401, description = "Invalid, expired or reused refresh token", body = ErrorBody),
    ))]
#[post("/api/v1/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let st = state.clone();
    let token = body.into_inner().refresh_token;
    let pair = db::run(&state.pool, move |c| {
        sessions::refresh(c, &st.session_settings(), &token, now)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(pair))
}

#[utoipa::path(tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "The session is ended: its access and refresh tokens stop working"),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
#[post("/api/v1/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, AppError> {
    let session = principal.user()?.session_id.clone();
    let now = state.clock.now();
    db::run(&state.pool, move |c| sessions::logout(c, &session, now)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "auth", security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The signed-in user or API client", body = Me),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
#[get("/api/v1/me")]
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

#[utoipa::path(tag = "auth", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Password changed; every session of the account is ended"),
        (status = 403, description = "current_password is wrong", body = ErrorBody),
        (status = 429, description = "Too many wrong current passwords (`too_many_attempts`)", body = ErrorBody),
        (status = 422, description = "The new password breaks the policy", body = ErrorBody),
    ))]
#[post("/api/v1/me/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<ChangePasswordRequest>,
) -> Result<HttpResponse, AppError> {
    let id = principal.user()?.id.clone();
    let body = body.into_inner();
    let now = state.clock.now();
    let (st, user) = (state.clone(), id.clone());
    // counted before the check, like logins: guessing the current password is throttled too
    let stored = db::run(&state.pool, move |c| {
        let policy = &st.throttle;
        let key = throttle::password_change_key(user.as_str());
        throttle::take_attempt(c, &[(key, policy.max_per_account)], policy, now)?;
        users::password_hash(c, &user)
    })
    .await?;
    let current = body.current_password;
    let verified = web::block(move || password::verify_or_dummy(&current, Some(&stored)))
        .await
        .map_err(|_| AppError::Internal("password check was cancelled".into()))?;
    if !verified {
        let (st, user) = (state.clone(), id.clone());
        db::run(&state.pool, move |c| {
            let policy = &st.throttle;
            let key = throttle::password_change_key(user.as_str());
            throttle::failed(c, &[(key, policy.max_per_account)], policy, now)
        })
        .await?;
        return Err(AppError::Forbidden("current_password is wrong".into()));
    }
    let new_password = body.new_password;
    db::run(&state.pool, move |c| {
        throttle::succeeded(c, &throttle::password_change_key(id.as_str()), None)?;
        users::set_password(c, &id, &new_password, now)
    })
    .await?;
    // committed: no principal cached meanwhile survives
    crate::accounts::sessions::note_change();
    Ok(HttpResponse::NoContent().finish())
}
