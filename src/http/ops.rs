//! Operations endpoints: liveness, readiness, metrics.

use actix_web::get;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::error::{AppError, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

#[utoipa::path(tag = "operations",
    responses((status = 200, description = "The process is alive", body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

#[utoipa::path(tag = "operations",
    responses(
        (status = 200, description = "The database answers and its schema is current", body = Health),
        (status = 503, description = "Database unreachable (`unavailable`) or migrations pending (`migrations_pending`)", body = ErrorBody),
    ))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<web::Json<Health>, AppError> {
    let current = db::run(&state.pool, db::migrations_current).await?;
    if !current {
        return Err(AppError::Http {
            status: actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            code: "migrations_pending",
            message: "the database has pending migrations; run `hotline migrate`".into(),
        });
    }
    Ok(web::Json(Health { status: "ready" }))
}

#[utoipa::path(tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    // the outbox counts are the database's (every instance's); a scrape still answers without it
    let now = state.clock.now();
    match db::run(&state.pool, move |c| {
        crate::notify::outbox::stats(c, now, false)
    })
    .await
    {
        Ok(stats) => state.metrics.set_outbox(&stats),
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the outbox counts"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&state.pool))
}
