//! `/api/v1/deadline-policy`: the time-limit policy in force (staff read; admins edit, every
//! version kept). Deadlines already given keep the limits they were given with.

use actix_web::{get, put, web};

use crate::auth::{Principal, Role};
use crate::db;
use crate::deadlines::Policy;
use crate::error::{AppError, ErrorBody};
use crate::http::json::Json;
use crate::state::AppState;
use crate::tickets::deadlines::{self, PolicyVersion};

#[utoipa::path(tag = "deadlines", security(("bearer" = [])),
    responses((status = 200, description = "The policy in force: the newest admin edit, else the configuration's `[deadlines]`", body = PolicyVersion)))]
#[get("/api/v1/deadline-policy")]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<PolicyVersion>, AppError> {
    principal.user()?;
    let st = state.clone();
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            deadlines::policy_version(c, &st.tickets.deadlines.policy)
        })
        .await?,
    ))
}

#[utoipa::path(tag = "deadlines", security(("bearer" = [])),
    request_body(content = Object, description = "The whole policy, in the shape `GET` answers under `policy` (limits such as `1wd`, `2wh`, `24h`)"),
    responses(
        (status = 200, description = "In force for steps that start from now on", body = PolicyVersion),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "A bad limit, a kind that does not exist, no `default` handling limit", body = ErrorBody),
    ))]
#[put("/api/v1/deadline-policy")]
pub async fn put(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<Policy>,
) -> Result<web::Json<PolicyVersion>, AppError> {
    let actor = principal.require_any_role(&[Role::Admin])?.id.clone();
    let policy = body.into_inner();
    let now = state.clock.now();
    let saved = db::run(&state.pool, move |c| {
        deadlines::set_policy(c, policy.clone(), &actor, now)
    })
    .await?;
    state.tickets.deadlines.forget();
    Ok(web::Json(saved))
}

#[utoipa::path(tag = "deadlines", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every edited version, newest first, with who and when", body = Vec<PolicyVersion>),
        (status = 403, description = "Not an admin or supervisor", body = ErrorBody),
    ))]
#[get("/api/v1/deadline-policy/history")]
pub async fn history(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<Vec<PolicyVersion>>, AppError> {
    principal.require_any_role(&[Role::Admin, Role::Supervisor])?;
    Ok(web::Json(
        db::run(&state.pool, deadlines::policy_history).await?,
    ))
}
