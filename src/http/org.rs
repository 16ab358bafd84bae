//! `/api/v1/departments`, `/api/v1/regions`, `/api/v1/categories`: reads for every staff
//! member, writes for admins.

use actix_web::{get, patch, post};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{Principal, Role};
use crate::catalogue::{self, Category, CategoryChanges, CategoryFilter, NewCategory};
use crate::db;
use crate::error::{AppError, ErrorBody};
use crate::http::json::Json;
use crate::ids::{CategoryId, DepartmentId, RegionId};
use crate::org::{self, Department, DepartmentChanges, DepartmentFilter, NewDepartment};
use crate::pagination::{Page, PageParams};
use crate::regions::{self, NewRegion, Region, RegionChanges, RegionFilter};
use crate::state::AppState;

type Id = web::Path<uuid::Uuid>;

// ---- departments ----------------------------------------------------------------------------

#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    params(DepartmentFilter, PageParams),
    responses((status = 200, description = "Departments in creation order", body = Page<Department>)))]
#[get("/api/v1/departments")]
pub async fn list_departments(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<DepartmentFilter>,
    page: web::Query<PageParams>,
) -> Result<web::Json<Page<Department>>, AppError> {
    principal.user()?;
    let page = page.validate()?;
    let filter = filter.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| org::list(c, &filter, &page)).await?,
    ))
}

#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    request_body = NewDepartment,
    responses(
        (status = 201, description = "Created", body = Department),
        (status = 409, description = "Code taken (`code_taken`)", body = ErrorBody),
        (status = 422, description = "Invalid field or unknown parent", body = ErrorBody),
    ))]
#[post("/api/v1/departments")]
pub async fn create_department(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<NewDepartment>,
) -> Result<HttpResponse, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    let now = state.clock.now();
    let input = body.into_inner();
    let created = db::run(&state.pool, move |c| org::create(c, input.clone(), now)).await?;
    Ok(HttpResponse::Created().json(created))
}

#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Department), (status = 404, body = ErrorBody)))]
#[get("/api/v1/departments/{id}")]
pub async fn get_department(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
) -> Result<web::Json<Department>, AppError> {
    principal.user()?;
    let id = DepartmentId(id.into_inner().to_string());
    Ok(web::Json(
        db::run(&state.pool, move |c| org::get(c, &id)).await?,
    ))
}

#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), request_body = DepartmentChanges,
    responses(
        (status = 200, description = "Updated; a new `parent_id` moves the subtree", body = Department),
        (status = 409, description = "Move under its own subtree (`tree_cycle`), or deactivation while in use (`department_in_use`)", body = ErrorBody),
    ))]
#[patch("/api/v1/departments/{id}")]
pub async fn update_department(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
    body: Json<DepartmentChanges>,
) -> Result<web::Json<Department>, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    let id = DepartmentId(id.into_inner().to_string());
    let now = state.clock.now();
    let changes = body.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            org::update(c, &id, changes.clone(), now)
        })
        .await?,
    ))
}

// ---- regions --------------------------------------------------------------------------------

#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    params(RegionFilter, PageParams),
    responses((status = 200, description = "Regions in creation order", body = Page<Region>)))]
#[get("/api/v1/regions")]
pub async fn list_regions(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<RegionFilter>,
    page: web::Query<PageParams>,
) -> Result<web::Json<Page<Region>>, AppError> {
    principal.user()?;
    let page = page.validate()?;
    let filter = filter.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| regions::list(c, &filter, &page)).await?,
    ))
}

#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    request_body = NewRegion,
    responses(
        (status = 201, description = "Created", body = Region),
        (status = 409, description = "Code taken (`code_taken`)", body = ErrorBody),
        (status = 422, description = "Invalid field, polygon or parent", body = ErrorBody),
    ))]
#[post("/api/v1/regions")]
pub async fn create_region(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<NewRegion>,
) -> Result<HttpResponse, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    let now = state.clock.now();
    let input = body.into_inner();
    let created = db::run(&state.pool, move |c| regions::create(c, input.clone(), now)).await?;
    Ok(HttpResponse::Created().json(created))
}

#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Region), (status = 404, body = ErrorBody)))]
#[get("/api/v1/regions/{id}")]
pub async fn get_region(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
) -> Result<web::Json<Region>, AppError> {
    principal.user()?;
    let id = RegionId(id.into_inner().to_string());
    Ok(web::Json(
        db::run(&state.pool, move |c| regions::get(c, &id)).await?,
    ))
}

#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), request_body = RegionChanges,
    responses(
        (status = 200, description = "Updated; a new `parent_id` moves the subtree", body = Region),
        (status = 409, description = "Move under its own subtree (`tree_cycle`)", body = ErrorBody),
    ))]
#[patch("/api/v1/regions/{id}")]
pub async fn update_region(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
    body: Json<RegionChanges>,
) -> Result<web::Json<Region>, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    let id = RegionId(id.into_inner().to_string());
    let now = state.clock.now();
    let changes = body.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            regions::update(c, &id, changes.clone(), now)
        })
        .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PointQuery {
    /// Latitude in degrees (WGS 84).
    pub lat: f64,
    /// Longitude in degrees (WGS 84).
    pub lng: f64,
}

#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    params(PointQuery),
    responses(
        (status = 200, description = "The smallest region whose polygon contains the point", body = Region),
        (status = 404, description = "No region polygon contains the point", body = ErrorBody),
    ))]
#[get("/api/v1/regions/resolve")]
pub async fn resolve_region(
    state: web::Data<AppState>,
    principal: Principal,
    point: web::Query<PointQuery>,
) -> Result<web::Json<Region>, AppError> {
    principal.user()?;
    let PointQuery { lat, lng } = point.into_inner();
    let found = db::run(&state.pool, move |c| regions::resolve(c, lat, lng)).await?;
    found
        .map(|r| web::Json(Region::from(r)))
        .ok_or_else(|| AppError::NotFound(format!("no region contains the point ({lat}, {lng})")))
}

// ---- categories -----------------------------------------------------------------------------

#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    params(CategoryFilter, PageParams),
    responses((status = 200, description = "Categories in creation order", body = Page<Category>)))]
#[get("/api/v1/categories")]
pub async fn list_categories(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<CategoryFilter>,
    page: web::Query<PageParams>,
) -> Result<web::Json<Page<Category>>, AppError> {
    principal.user()?;
    let page = page.validate()?;
    let filter = filter.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| catalogue::list(c, &filter, &page)).await?,
    ))
}

#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    request_body = NewCategory,
    responses(
        (status = 201, description = "Created", body = Category),
        (status = 409, description = "Code taken (`code_taken`)", body = ErrorBody),
        (status = 422, description = "Invalid field, attribute or reference", body = ErrorBody),
    ))]
#[post("/api/v1/categories")]
pub async fn create_category(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<NewCategory>,
) -> Result<HttpResponse, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    let now = state.clock.now();
    let input = body.into_inner();
    let created = db::run(&state.pool, move |c| {
        catalogue::create(c, input.clone(), now)
    })
    .await?;
    Ok(HttpResponse::Created().json(created))
}

#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Category), (status = 404, body = ErrorBody)))]
#[get("/api/v1/categories/{id}")]
pub async fn get_category(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
) -> Result<web::Json<Category>, AppError> {
    principal.user()?;
    let id = CategoryId(id.into_inner().to_string());
    Ok(web::Json(
        db::run(&state.pool, move |c| catalogue::get(c, &id)).await?,
    ))
}

#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), request_body = CategoryChanges,
    responses(
        (status = 200, description = "Updated; a new `parent_id` moves the subtree", body = Category),
        (status = 409, description = "Move under its own subtree (`tree_cycle`)", body = ErrorBody),
    ))]
#[patch("/api/v1/categories/{id}")]
pub async fn update_category(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
    body: Json<CategoryChanges>,
) -> Result<web::Json<Category>, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    let id = CategoryId(id.into_inner().to_string());
    let now = state.clock.now();
    let changes = body.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            catalogue::update(c, &id, changes.clone(), now)
        })
        .await?,
    ))
}
