//! Extractors: the authenticated `Principal`, and the client's address.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use crate::accounts::sessions::ClientInfo;
use crate::accounts::{api_clients, sessions};
use crate::auth::tokens::API_KEY_PREFIX;
use crate::auth::Principal;
use crate::db;
use crate::error::AppError;
use crate::state::AppState;

enum Credential {
    Bearer(String),
    ApiKey(String),
}

fn credential(req: &HttpRequest) -> Result<Option<Credential>, AppError> {
    if let Some(value) = req.headers().get("x-api-key") {
        let key = value
            .to_str()
            .map_err(|_| AppError::unauthorized("invalid_api_key", "the API key is not valid"))?;
        return Ok(Some(Credential::ApiKey(key.trim().to_string())));
    }
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed =
        || AppError::unauthorized("invalid_token", "expected 'Authorization: Bearer <token>'");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(malformed());
    }
    let token = token.trim().to_string();
    Ok(Some(if token.starts_with(API_KEY_PREFIX) {
        Credential::ApiKey(token)
    } else {
        Credential::Bearer(token)
    }))
}

pub fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::Internal("application state missing".into()))
}

/// The authenticated caller: a staff user (JWT access token) or an API client (API key).
/// Missing or bad credentials answer 401; handlers then check roles or scopes (403).
impl FromRequest for Principal {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let state = app_state(req);
        let credential = credential(req);
        Box::pin(async move {
            let state = state?;
            let now = state.clock.now();
            match credential? {
                None => Err(AppError::unauthorized(
                    "unauthenticated",
                    "this endpoint needs 'Authorization: Bearer <access token or API key>'",
                )),
                Some(Credential::ApiKey(key)) => db::run(&state.pool, move |c| {
                    api_clients::authenticate(c, &key, now)
                })
                .await
                .map(Principal::ApiClient),
                Some(Credential::Bearer(token)) => {
                    let claims = state.keys.verify_access(&token, now)?;
                    if let Some(user) = state.principals.get(&claims) {
                        return Ok(Principal::User(user));
                    }
                    let epoch = sessions::PrincipalCache::epoch();
                    let user = db::run(&state.pool, move |c| {
                        sessions::authenticate(c, &claims, now)
                    })
                    .await?;
                    state.principals.put(&user, epoch);
                    Ok(Principal::User(user))
                }
            }
        })
    }
}

/// The client's address (from `X-Forwarded-For` only when `server.trust_forwarded_for`) and
/// user agent.
pub fn client_info(req: &HttpRequest, trust_forwarded_for: bool) -> ClientInfo {
    let forwarded = trust_forwarded_for
        .then(|| {
            req.headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        })
        .flatten();
    ClientInfo {
        address: forwarded.or_else(|| req.peer_addr().map(|a| a.ip().to_string())),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
    }
}
