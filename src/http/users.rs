//! `/api/v1/users`: account administration (admins).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::accounts::users::{self, NewUser, User, UserChanges, UserFilter};
use crate::auth::{Principal, Role};
use crate::db;
use crate::error::{AppError, ErrorBody};
use crate::ids::UserId;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Only users holding this role.
    pub role: Option<Role>,
    /// Only active (`true`) or disabled (`false`) users.
    pub active: Option<bool>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPasswordRequest {
    pub password: String,
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), params(UserQuery),
    responses(
        (status = 200, description = "Accounts in creation order", body = Page<User>),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<UserQuery>,
) -> Result<web::Json<Page<User>>, AppError> {
    principal.require_any_role(&[Role::Admin, Role::Supervisor])?;
    let query = query.into_inner();
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .validate()?;
    let filter = UserFilter {
        role: query.role,
        active: query.active,
    };
    Ok(web::Json(
        db::run(&state.pool, move |c| users::list(c, &filter, &page)).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = User),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "Username taken (`username_taken`)", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<NewUser>,
) -> Result<HttpResponse, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    let now = state.clock.now();
    let input = body.into_inner();
    let user = db::run(&state.pool, move |c| users::create(c, input, now)).await?;
    Ok(HttpResponse::Created().json(user))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "User id")),
    responses(
        (status = 200, description = "The account", body = User),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<uuid::Uuid>,
) -> Result<web::Json<User>, AppError> {
    principal.require_any_role(&[Role::Admin, Role::Supervisor])?;
    let id = UserId(id.into_inner().to_string());
    Ok(web::Json(
        db::run(&state.pool, move |c| users::get(c, &id)).await?,
    ))
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "User id")), request_body = UserChanges,
    responses(
        (status = 200, description = "Updated; `active: false` ends the user's sessions", body = User),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<uuid::Uuid>,
    body: web::Json<UserChanges>,
) -> Result<web::Json<User>, AppError> {
    let admin = principal.require_any_role(&[Role::Admin])?;
    let id = UserId(id.into_inner().to_string());
    let changes = body.into_inner();
    if admin.id == id
        && (changes.active == Some(false)
            || changes
                .roles
                .as_ref()
                .is_some_and(|r| !r.contains(&Role::Admin)))
    {
        return Err(AppError::conflict(
            "self_lockout",
            "admins cannot disable themselves or drop their own admin role",
        ));
    }
    let now = state.clock.now();
    Ok(web::Json(
        db::run(&state.pool, move |c| users::update(c, &id, changes, now)).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/users/{id}/password", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "User id")), request_body = SetPasswordRequest,
    responses(
        (status = 204, description = "Password set; the user's sessions are ended"),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "The password breaks the policy", body = ErrorBody),
    ))]
pub async fn set_password(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<uuid::Uuid>,
    body: web::Json<SetPasswordRequest>,
) -> Result<HttpResponse, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    let id = UserId(id.into_inner().to_string());
    let now = state.clock.now();
    let password = body.into_inner().password;
    db::run(&state.pool, move |c| {
        users::set_password(c, &id, &password, now)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
