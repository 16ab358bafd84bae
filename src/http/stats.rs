//! `/api/v1/stats/...`: indicators over a period (docs/indicators.md).

use actix_web::{get, post, web};

use crate::auth::Principal;
use crate::db;
use crate::error::{AppError, ErrorBody};
use crate::http::tickets::staff_viewer;
use crate::state::AppState;
use crate::stats::{self, Indicators, StatsQuery};

#[utoipa::path(tag = "stats", security(("bearer" = [])),
    params(StatsQuery),
    responses(
        (status = 200, description = "Volumes, rates (each with numerator and denominator), overdue steps, a time series", body = Indicators),
        (status = 403, description = "A department asking for figures outside its subtree", body = ErrorBody),
        (status = 422, description = "A period longer than 366 days, `to` before `from`, an unknown department, category or region", body = ErrorBody),
    ))]
#[get("/api/v1/stats/indicators")]
pub async fn indicators(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StatsQuery>,
) -> Result<web::Json<Indicators>, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let query = query.into_inner();
    let tz = state.calendar.time_zone();
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            stats::indicators(c, &viewer, tz, query.clone())
        })
        .await?,
    ))
}

#[utoipa::path(tag = "stats", security(("bearer" = [])),
    params(crate::stats::audit::AuditQuery),
    responses(
        (status = 200, description = "Per operator and per department: callbacks due, in time, late, median and 90th percentile times (natural and working minutes); the late callbacks", body = crate::stats::audit::Audit),
        (status = 403, description = "An operator asking for another operator's figures; a department user", body = ErrorBody),
    ))]
#[get("/api/v1/stats/callback-audit")]
pub async fn callback_audit(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<crate::stats::audit::AuditQuery>,
) -> Result<web::Json<crate::stats::audit::Audit>, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let query = query.into_inner();
    let st = state.clone();
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            let calendar = st.tickets.deadlines.calendar_in_force(c)?;
            crate::stats::audit::audit(c, &viewer, &calendar, query.clone())
        })
        .await?,
    ))
}

#[utoipa::path(tag = "stats", security(("bearer" = [])),
    params(crate::tickets::hotspots::AlertFilter),
    responses(
        (status = 200, description = "Hot-spot alerts, newest first, with the tickets behind each and the ticket to merge them into", body = Vec<crate::tickets::hotspots::Alert>),
        (status = 403, description = "A department user", body = ErrorBody),
    ))]
#[get("/api/v1/hotspots")]
pub async fn hotspots(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<crate::tickets::hotspots::AlertFilter>,
) -> Result<web::Json<Vec<crate::tickets::hotspots::Alert>>, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let filter = filter.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            crate::tickets::hotspots::list(c, &viewer, filter.clone())
        })
        .await?,
    ))
}

#[utoipa::path(tag = "stats", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), request_body = crate::tickets::hotspots::Dismissal,
    responses(
        (status = 200, description = "Dismissed, with its reason", body = crate::tickets::hotspots::Alert),
        (status = 403, description = "Not a supervisor", body = ErrorBody),
        (status = 404, description = "No open alert with this id", body = ErrorBody),
    ))]
#[post("/api/v1/hotspots/{id}/dismiss")]
pub async fn dismiss_hotspot(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<uuid::Uuid>,
    body: crate::http::json::Json<crate::tickets::hotspots::Dismissal>,
) -> Result<web::Json<crate::tickets::hotspots::Alert>, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let id = id.into_inner().to_string();
    let now = state.clock.now();
    let input = body.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            crate::tickets::hotspots::dismiss(c, &viewer, &id, input.clone(), now)
        })
        .await?,
    ))
}

#[utoipa::path(tag = "stats", security(("bearer" = [])),
    params(crate::stats::ledger::LedgerQuery),
    responses(
        (status = 200, description = "The ledger as an attachment: CSV (UTF-8 with BOM) or XLSX; `X-Ledger-Rows` gives its ticket rows", content_type = "text/csv"),
        (status = 403, description = "A department asking for another subtree", body = ErrorBody),
        (status = 422, description = "A period that is no month or quarter; an unknown department", body = ErrorBody),
    ))]
#[get("/api/v1/stats/ledger")]
pub async fn ledger(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<crate::stats::ledger::LedgerQuery>,
) -> Result<actix_web::HttpResponse, AppError> {
    use crate::stats::ledger::LedgerFormat;
    let viewer = staff_viewer(&state, &principal)?;
    let query = query.into_inner();
    let format = query.format.unwrap_or(LedgerFormat::Csv);
    let tz = state.calendar.time_zone();
    let dir = state.settings.data_dir.join("exports");
    let written = db::run(&state.pool, move |c| {
        crate::stats::ledger::write(c, &viewer, tz, &dir, query.clone())
    })
    .await?;
    let content_type = ledger_content_type(format);
    let file = std::fs::File::open(&written.path)
        .map_err(|e| AppError::Internal(format!("ledger file: {e}")))?;
    // the file is unlinked at once: it lives while the stream reads it
    if let Err(e) = std::fs::remove_file(&written.path) {
        tracing::warn!(error = %e, "cannot remove a ledger file");
    }
    Ok(actix_web::HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{}\"", written.file_name),
        ))
        .insert_header(("X-Ledger-Rows", written.rows.to_string()))
        .streaming(stream_file(file)))
}

fn ledger_content_type(format: crate::stats::ledger::LedgerFormat) -> &'static str {
    match format {
        crate::stats::ledger::LedgerFormat::Csv => "text/csv; charset=utf-8",
        crate::stats::ledger::LedgerFormat::Xlsx => {
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        }
    }
}

/// A file as a response body, read in 64 KiB chunks off the async workers.
fn stream_file(
    file: std::fs::File,
) -> impl futures_util::Stream<Item = Result<web::Bytes, actix_web::Error>> {
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let read = web::block(move || {
            use std::io::Read;
            let mut buf = vec![0u8; 64 * 1024];
            let n = file.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((buf, file))
        })
        .await;
        match read {
            Ok(Ok((buf, _))) if buf.is_empty() => None,
            Ok(Ok((buf, file))) => {
                Some((Ok::<_, actix_web::Error>(web::Bytes::from(buf)), Some(file)))
            }
            Ok(Err(e)) => Some((Err(actix_web::error::ErrorInternalServerError(e)), None)),
            Err(e) => Some((Err(actix_web::error::ErrorInternalServerError(e)), None)),
        }
    })
}

#[utoipa::path(tag = "stats", security(("bearer" = [])),
    params(StatsQuery),
    responses(
        (status = 200, description = "The indicators as one XLSX workbook: sheets 总量, 指标, 超期, 趋势", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
#[get("/api/v1/stats/indicators.xlsx")]
pub async fn indicators_workbook(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StatsQuery>,
) -> Result<actix_web::HttpResponse, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let query = query.into_inner();
    let name = format!("indicators-{}-{}.xlsx", query.from, query.to);
    let tz = state.calendar.time_zone();
    let bytes = db::run(&state.pool, move |c| {
        let ind = stats::indicators(c, &viewer, tz, query.clone())?;
        stats::workbook(&ind)
    })
    .await?;
    Ok(actix_web::HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .body(bytes))
}

#[utoipa::path(tag = "stats", security(("bearer" = [])),
    request_body = crate::stats::exports::ExportRequest,
    responses(
        (status = 202, description = "The export job, queued; poll it for its progress", body = crate::stats::exports::ExportView),
        (status = 403, description = "A department asking for another subtree", body = ErrorBody),
        (status = 422, description = "A period that is no month, quarter or year; an unknown department", body = ErrorBody),
    ))]
#[post("/api/v1/stats/exports")]
pub async fn request_export(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<crate::stats::exports::ExportRequest>,
) -> Result<actix_web::HttpResponse, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let input = body.into_inner();
    let view = db::run(&state.pool, move |c| {
        crate::stats::exports::request(c, &viewer, input.clone())
    })
    .await?;
    crate::jobs::start_export(state.clone(), view.id.clone());
    Ok(actix_web::HttpResponse::Accepted()
        .insert_header(("Location", format!("/api/v1/stats/exports/{}", view.id)))
        .json(view))
}

#[utoipa::path(tag = "stats", security(("bearer" = [])),
    responses((status = 200, description = "The caller's latest 50 export jobs, newest first", body = [crate::stats::exports::ExportView])))]
#[get("/api/v1/stats/exports")]
pub async fn list_exports(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<Vec<crate::stats::exports::ExportView>>, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            crate::stats::exports::list(c, &viewer)
        })
        .await?,
    ))
}

#[utoipa::path(tag = "stats", security(("bearer" = [])),
    params(("id" = String, Path, description = "The export job")),
    responses(
        (status = 200, description = "The job: state, rows written of rows total, progress, the download link once done", body = crate::stats::exports::ExportView),
        (status = 404, description = "No such job, or another user's", body = ErrorBody),
    ))]
#[get("/api/v1/stats/exports/{id}")]
pub async fn get_export(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<crate::stats::exports::ExportView>, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let id = id.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            crate::stats::exports::get(c, &viewer, &id)
        })
        .await?,
    ))
}

#[utoipa::path(tag = "stats", security(("bearer" = [])),
    params(("id" = String, Path, description = "The export job")),
    responses(
        (status = 200, description = "The ledger file (CSV with BOM or XLSX)", content_type = "text/csv"),
        (status = 404, description = "No such job, or another user's", body = ErrorBody),
        (status = 409, description = "The job is not done (`export_not_ready`)", body = ErrorBody),
    ))]
#[get("/api/v1/stats/exports/{id}/file")]
pub async fn export_file(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<actix_web::HttpResponse, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let id = id.into_inner();
    let dir = state.settings.data_dir.join("exports");
    let (path, name, format) = db::run(&state.pool, move |c| {
        crate::stats::exports::file(c, &viewer, &dir, &id)
    })
    .await?;
    let file = web::block(move || std::fs::File::open(path))
        .await
        .map_err(|_| AppError::Internal("file task was cancelled".into()))?
        .map_err(|e| AppError::NotFound(format!("the export file is gone: {e}")))?;
    Ok(actix_web::HttpResponse::Ok()
        .content_type(ledger_content_type(format))
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .streaming(stream_file(file)))
}
