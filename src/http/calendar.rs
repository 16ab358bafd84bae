//! `/api/v1/calendar`: the business calendar's years (staff read; admins edit, recorded).

use actix_web::{get, put, web};

use crate::auth::{Principal, Role};
use crate::calendar::store::{self, CalendarChange, CalendarYear, CalendarYearInput};
use crate::db;
use crate::error::{AppError, ErrorBody};
use crate::http::json::Json;
use crate::state::AppState;

#[utoipa::path(tag = "calendar", security(("bearer" = [])),
    responses((status = 200, description = "Every year with data: holidays and make-up working days", body = Vec<CalendarYear>)))]
#[get("/api/v1/calendar")]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<Vec<CalendarYear>>, AppError> {
    principal.user()?;
    let st = state.clone();
    Ok(web::Json(
        db::run(&state.pool, move |c| store::list(c, &st.calendar)).await?,
    ))
}

#[utoipa::path(tag = "calendar", security(("bearer" = [])),
    params(("year" = i32, Path)),
    responses(
        (status = 200, description = "The year in force: an admin's edit, else the shipped file", body = CalendarYear),
        (status = 404, description = "No data for the year", body = ErrorBody),
    ))]
#[get("/api/v1/calendar/{year}")]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    year: web::Path<i32>,
) -> Result<web::Json<CalendarYear>, AppError> {
    principal.user()?;
    let year = year.into_inner();
    let st = state.clone();
    Ok(web::Json(
        db::run(&state.pool, move |c| store::get(c, &st.calendar, year)).await?,
    ))
}

#[utoipa::path(tag = "calendar", security(("bearer" = [])),
    params(("year" = i32, Path)), request_body = CalendarYearInput,
    responses(
        (status = 200, description = "Stored; the change is recorded with its author", body = CalendarYear),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "A date outside the year, a day both off and worked, a make-up day that is no weekend day", body = ErrorBody),
    ))]
#[put("/api/v1/calendar/{year}")]
pub async fn put(
    state: web::Data<AppState>,
    principal: Principal,
    year: web::Path<i32>,
    body: Json<CalendarYearInput>,
) -> Result<web::Json<CalendarYear>, AppError> {
    let actor = principal.require_any_role(&[Role::Admin])?.id.clone();
    let year = year.into_inner();
    let input = body.into_inner();
    let now = state.clock.now();
    let st = state.clone();
    let saved = db::run(&state.pool, move |c| {
        store::put(c, &st.calendar, year, input.clone(), &actor, now)
    })
    .await?;
    state.tickets.deadlines.forget();
    Ok(web::Json(saved))
}

#[utoipa::path(tag = "calendar", security(("bearer" = [])),
    params(("year" = i32, Path)),
    responses(
        (status = 200, description = "The year's recorded edits, oldest first: who, when, before and after", body = Vec<CalendarChange>),
        (status = 403, description = "Not an admin or supervisor", body = ErrorBody),
    ))]
#[get("/api/v1/calendar/{year}/history")]
pub async fn history(
    state: web::Data<AppState>,
    principal: Principal,
    year: web::Path<i32>,
) -> Result<web::Json<Vec<CalendarChange>>, AppError> {
    principal.require_any_role(&[Role::Admin, Role::Supervisor])?;
    let year = year.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| store::history(c, year)).await?,
    ))
}
