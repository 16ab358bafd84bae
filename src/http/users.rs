//! `/api/v1/users`: account administration (admins).

use actix_web::{get, patch, post};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::accounts::users::{self, NewUser, User, UserChanges, UserFilter};
use crate::auth::{Principal, Role, UserPrincipal};
use crate::db;
use crate::error::{AppError, ErrorBody};
use crate::http::json::Json;
use crate::ids::{DepartmentId, UserId};
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Only users holding this role.
    pub role: Option<Role>,
    /// Only active (`true`) or disabled (`false`) users.
    pub active: Option<bool>,
    /// Only users of this department (department admins always see only their own).
    pub department_id: Option<uuid::Uuid>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPasswordRequest {
    pub password: String,
}

#[utoipa::path(tag = "users", security(("bearer" = [])), params(UserQuery),
    responses(
        (status = 200, description = "Accounts in creation order", body = Page<User>),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
#[get("/api/v1/users")]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<UserQuery>,
) -> Result<web::Json<Page<User>>, AppError> {
    let actor =
        principal.require_any_role(&[Role::Admin, Role::Supervisor, Role::DepartmentAdmin])?;
    let query = query.into_inner();
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .validate()?;
    let mut department_id = query.department_id.map(|d| DepartmentId(d.to_string()));
    if !actor.roles.contains(Role::Admin) && !actor.roles.contains(Role::Supervisor) {
        department_id = actor.department_id.clone();
        users::authorize_manage(actor, department_id.as_ref(), None, None)?;
    }
    let filter = UserFilter {
        role: query.role,
        active: query.active,
        department_id,
    };
    Ok(web::Json(
        db::run(&state.pool, move |c| users::list(c, &filter, &page)).await?,
    ))
}

#[utoipa::path(tag = "users", security(("bearer" = [])), request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = User),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "Username taken (`username_taken`)", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
#[post("/api/v1/users")]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<NewUser>,
) -> Result<HttpResponse, AppError> {
    let actor = principal.user()?;
    let mut input = body.into_inner();
    if input.department_id.is_none() && !actor.roles.contains(Role::Admin) {
        input.department_id = actor.department_id.clone();
    }
    users::authorize_manage(
        actor,
        input.department_id.as_ref(),
        Some(&input.roles),
        None,
    )?;
    let now = state.clock.now();
    let user = db::run(&state.pool, move |c| users::create(c, input.clone(), now)).await?;
    Ok(HttpResponse::Created().json(user))
}

#[utoipa::path(tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "User id")),
    responses(
        (status = 200, description = "The account", body = User),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
#[get("/api/v1/users/{id}")]
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

#[utoipa::path(tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "User id")), request_body = UserChanges,
    responses(
        (status = 200, description = "Updated; `active: false` ends the user's sessions", body = User),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
#[patch("/api/v1/users/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<uuid::Uuid>,
    body: Json<UserChanges>,
) -> Result<web::Json<User>, AppError> {
    let admin = principal.user()?.clone();
    let id = UserId(id.into_inner().to_string());
    let changes = body.into_inner();
    let target = load_managed(&state, &admin, &id).await?;
    if !admin.roles.contains(Role::Admin) {
        let department = changes
            .department_id
            .clone()
            .unwrap_or(target.department_id.clone());
        users::authorize_manage(
            &admin,
            department.as_ref(),
            changes.roles.as_deref(),
            Some(&target.roles),
        )?;
    }
    // the last word on accounts must not lock itself out
    let keeps_admin =
        |r: &Vec<Role>| r.contains(&Role::Admin) || !admin.roles.contains(Role::Admin);
    if admin.id == id
        && (changes.active == Some(false)
            || changes.roles.as_ref().is_some_and(|r| !keeps_admin(r)))
    {
        return Err(AppError::conflict(
            "self_lockout",
            "you cannot disable your own account or drop your own admin role",
        ));
    }
    let now = state.clock.now();
    let updated = db::run(&state.pool, move |c| {
        users::update(c, &id, changes.clone(), now)
    })
    .await?;
    // committed: no principal cached meanwhile survives
    crate::accounts::sessions::note_change();
    Ok(web::Json(updated))
}

#[utoipa::path(tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "User id")), request_body = SetPasswordRequest,
    responses(
        (status = 204, description = "Password set; the user's sessions are ended"),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "The password breaks the policy", body = ErrorBody),
    ))]
#[post("/api/v1/users/{id}/password")]
pub async fn set_password(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<uuid::Uuid>,
    body: Json<SetPasswordRequest>,
) -> Result<HttpResponse, AppError> {
    let actor = principal.user()?.clone();
    let id = UserId(id.into_inner().to_string());
    load_managed(&state, &actor, &id).await?;
    let now = state.clock.now();
    let password = body.into_inner().password;
    db::run(&state.pool, move |c| {
        users::set_password(c, &id, &password, now)
    })
    .await?;
    crate::accounts::sessions::note_change();
    Ok(HttpResponse::NoContent().finish())
}

/// A manager may manage the account: admins any; a department admin one of their department
/// (others: 404, which does not reveal whether it exists) holding department roles only (403).
fn visible_to_manager(actor: &UserPrincipal, user: &User) -> Result<(), AppError> {
    if actor.roles.contains(Role::Admin) {
        return Ok(());
    }
    users::authorize_manage(actor, user.department_id.as_ref(), None, None)
        .map_err(|_| AppError::NotFound(format!("no user with id {}", user.id)))?;
    users::authorize_manage(actor, user.department_id.as_ref(), None, Some(&user.roles))
}

/// Loads an account the actor may manage (403 for non-managers, 404 outside their department).
async fn load_managed(
    state: &web::Data<AppState>,
    actor: &UserPrincipal,
    id: &UserId,
) -> Result<User, AppError> {
    if !actor.roles.contains(Role::Admin) && !actor.roles.contains(Role::DepartmentAdmin) {
        return Err(AppError::Forbidden(
            "managing accounts needs the admin or department_admin role".into(),
        ));
    }
    let id = id.clone();
    let user = db::run(&state.pool, move |c| users::get(c, &id)).await?;
    visible_to_manager(actor, &user)?;
    Ok(user)
}
