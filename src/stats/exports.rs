//! Ledger export jobs: `POST /api/v1/stats/exports` records the job and answers at once; the job
//! writes the file under `data_dir/exports` in the background, recording its progress (rows
//! written of rows counted) after every page of 1,000 tickets; the requester polls the job and
//! downloads the file when it is `done`. Files expire after `stats.export_retention_hours`.
//!
//! Nothing acknowledged is lost: a job is a row. The process that accepted it starts it at once;
//! a job whose process died (its lease ran out without renewal) or that was never started is
//! taken again by the recovery pass every `serve` process runs each minute. Taking a job is a
//! guarded update (state and lease in the `WHERE`), so exactly one process runs it.

use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDateTime};
use chrono_tz::Tz;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ledger::{self, LedgerFormat, LedgerQuery, LedgerSpec};
use crate::db::schema::exports;
use crate::db::DbConnection;
use crate::error::AppError;
use crate::tickets::Viewer;

/// How long a running job may go without renewing its lease before another process takes it.
const LEASE_MINUTES: i64 = 5;
/// A job failing this many times (crashes included) is marked failed.
const MAX_ATTEMPTS: i32 = 3;

/// The request body of `POST /api/v1/stats/exports`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// A month `2025-11`, a quarter `2025-Q4` or a year `2025`.
    pub period: String,
    /// The department subtree (department users: their own by default).
    pub department_id: Option<String>,
    /// `csv` (default) or `xlsx`.
    pub format: Option<LedgerFormat>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = exports)]
struct ExportRow {
    id: String,
    requested_by: String,
    period: String,
    department_id: Option<String>,
    department_path: Option<String>,
    format: String,
    state: String,
    rows_total: Option<i64>,
    rows_written: i64,
    file_name: Option<String>,
    error: Option<String>,
    created_at: NaiveDateTime,
    started_at: Option<NaiveDateTime>,
    finished_at: Option<NaiveDateTime>,
    include_confidential: bool,
}

/// An export job as its requester sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportView {
    pub id: String,
    /// `queued`, `running`, `done`, `failed` or `expired` (the file was removed).
    pub state: String,
    pub period: String,
    pub department_id: Option<String>,
    pub format: String,
    /// Rows the ledger has (known once the job started).
    pub rows_total: Option<i64>,
    pub rows_written: i64,
    /// Share of the rows written, 0.0 to 1.0.
    pub progress: f64,
    /// Where to download the file once `done`.
    pub download: Option<String>,
    pub file_name: Option<String>,
    pub error: Option<String>,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
}

impl From<ExportRow> for ExportView {
    fn from(r: ExportRow) -> ExportView {
        let progress = match (r.state.as_str(), r.rows_total) {
            ("done", _) => 1.0,
            (_, Some(total)) if total > 0 => (r.rows_written as f64 / total as f64).min(1.0),
            _ => 0.0,
        };
        ExportView {
            download: (r.state == "done").then(|| format!("/api/v1/stats/exports/{}/file", r.id)),
            id: r.id,
            state: r.state,
            period: r.period,
            department_id: r.department_id,
            format: r.format,
            rows_total: r.rows_total,
            rows_written: r.rows_written,
            progress,
            file_name: r.file_name,
            error: r.error,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
        }
    }
}

fn format_of(s: &str) -> LedgerFormat {
    if s == "xlsx" {
        LedgerFormat::Xlsx
    } else {
        LedgerFormat::Csv
    }
}

fn requester(viewer: &Viewer) -> Result<String, AppError> {
    viewer
        .user_id()
        .map(str::to_string)
        .ok_or_else(|| AppError::Forbidden("exports are requested by staff accounts".into()))
}

/// Records a job for the viewer after checking the period and the department against their
/// visibility (so a bad request is refused now, not by a failed job later).
pub fn request(
    conn: &mut DbConnection,
    viewer: &Viewer,
    input: ExportRequest,
) -> Result<ExportView, AppError> {
    let by = requester(viewer)?;
    let spec = ledger::resolve(
        conn,
        viewer,
        LedgerQuery {
            period: input.period,
            department_id: input.department_id,
            format: input.format,
        },
    )?;
    let id = crate::db::new_id();
    diesel::insert_into(exports::table)
        .values((
            exports::id.eq(&id),
            exports::requested_by.eq(&by),
            exports::period.eq(&spec.period),
            exports::department_id.eq(&spec.department_id),
            exports::department_path.eq(&spec.department_path),
            exports::format.eq(spec.extension()),
            exports::include_confidential.eq(spec.include_confidential),
            exports::state.eq("queued"),
            exports::created_at.eq(viewer.now),
        ))
        .execute(conn)?;
    get(conn, viewer, &id)
}

/// One job of the viewer (admins read every job).
pub fn get(conn: &mut DbConnection, viewer: &Viewer, id: &str) -> Result<ExportView, AppError> {
    let row: ExportRow = exports::table
        .find(id)
        .select(ExportRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::NotFound("no such export".into()))?;
    if !may_read(viewer, &row) {
        return Err(AppError::NotFound("no such export".into()));
    }
    Ok(row.into())
}

fn may_read(viewer: &Viewer, row: &ExportRow) -> bool {
    viewer.user_id() == Some(row.requested_by.as_str())
        || viewer.actor.roles.contains(crate::auth::Role::Admin)
}

/// The viewer's latest jobs, newest first.
pub fn list(conn: &mut DbConnection, viewer: &Viewer) -> Result<Vec<ExportView>, AppError> {
    let by = requester(viewer)?;
    let rows: Vec<ExportRow> = exports::table
        .filter(exports::requested_by.eq(by))
        .order(exports::created_at.desc())
        .limit(50)
        .select(ExportRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// The file of a finished job and the name to download it under.
pub fn file(
    conn: &mut DbConnection,
    viewer: &Viewer,
    dir: &Path,
    id: &str,
) -> Result<(PathBuf, String, LedgerFormat), AppError> {
    let view = get(conn, viewer, id)?;
    if view.state != "done" {
        return Err(AppError::Conflict {
            code: "export_not_ready",
            message: format!(
                "the export is {}; its file can be downloaded once it is done",
                view.state
            ),
        });
    }
    let format = format_of(&view.format);
    let path = dir.join(format!("{}.{}", view.id, view.format));
    Ok((path, view.file_name.unwrap_or_default(), format))
}

/// Takes the job if it is queued, or running under an expired lease: exactly one process wins.
fn claim(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> Result<bool, AppError> {
    let taken = diesel::update(
        exports::table.find(id).filter(
            exports::state.eq("queued").or(exports::state
                .eq("running")
                .and(exports::lease_until.lt(now))),
        ),
    )
    .set((
        exports::state.eq("running"),
        exports::lease_until.eq(now + Duration::minutes(LEASE_MINUTES)),
        exports::attempts.eq(exports::attempts + 1),
        exports::started_at.eq(now),
        exports::rows_written.eq(0),
    ))
    .execute(conn)?;
    Ok(taken == 1)
}

/// Runs job `id` if this process can take it; the file goes to `dir/<id>.<ext>`. Answers whether
/// it ran. `now` gives the clock (the lease follows it).
pub fn run(
    conn: &mut DbConnection,
    id: &str,
    tz: Tz,
    dir: &Path,
    now: &dyn Fn() -> NaiveDateTime,
) -> Result<bool, AppError> {
    if !claim(conn, id, now())? {
        return Ok(false);
    }
    let row: ExportRow = exports::table
        .find(id)
        .select(ExportRow::as_select())
        .first(conn)?;
    let attempts: i32 = exports::table
        .find(id)
        .select(exports::attempts)
        .first(conn)?;
    if attempts > MAX_ATTEMPTS {
        finish(
            conn,
            id,
            now(),
            Err("gave up after repeated failures".into()),
        )?;
        return Ok(true);
    }
    let (from, to) = ledger::period_dates(&row.period)?;
    let spec = LedgerSpec {
        period: row.period.clone(),
        from,
        to,
        department_id: row.department_id.clone(),
        department_path: row.department_path.clone(),
        format: format_of(&row.format),
        include_confidential: row.include_confidential,
    };
    let outcome = (|| {
        let total = ledger::count(conn, tz, &spec)?;
        diesel::update(exports::table.find(id))
            .set(exports::rows_total.eq(i64::try_from(total).unwrap_or(i64::MAX)))
            .execute(conn)?;
        crate::files::create_private_dir(dir)
            .map_err(|e| AppError::Internal(format!("exports directory: {e}")))?;
        let path = dir.join(format!("{id}.{}", spec.extension()));
        let mut since = 0u64;
        ledger::write_file(
            conn,
            tz,
            now(),
            &spec,
            &path,
            &mut |c: &mut DbConnection, rows: u64| {
                // every 10,000 rows: the progress, and the lease renewed
                if rows - since >= 10_000 {
                    since = rows;
                    diesel::update(exports::table.find(id))
                        .set((
                            exports::rows_written.eq(i64::try_from(rows).unwrap_or(i64::MAX)),
                            exports::lease_until.eq(now() + Duration::minutes(LEASE_MINUTES)),
                        ))
                        .execute(c)?;
                }
                Ok(())
            },
        )
    })();
    match outcome {
        Ok(rows) => {
            diesel::update(exports::table.find(id))
                .set(exports::rows_written.eq(i64::try_from(rows).unwrap_or(i64::MAX)))
                .execute(conn)?;
            finish(conn, id, now(), Ok(spec.file_name()))?;
        }
        Err(e) => {
            tracing::warn!(export = id, error = %e, "ledger export failed");
            finish(conn, id, now(), Err(e.to_string()))?;
        }
    }
    Ok(true)
}

fn finish(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
    result: Result<String, String>,
) -> Result<(), AppError> {
    let (state, file_name, error) = match result {
        Ok(name) => ("done", Some(name), None),
        Err(e) => ("failed", None, Some(e)),
    };
    diesel::update(exports::table.find(id))
        .set((
            exports::state.eq(state),
            exports::file_name.eq(file_name),
            exports::error.eq(error),
            exports::finished_at.eq(now),
            exports::lease_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Jobs to (re)start: queued ones older than a minute (their process did not start them) and
/// running ones whose lease ran out.
pub fn stranded(conn: &mut DbConnection, now: NaiveDateTime) -> Result<Vec<String>, AppError> {
    Ok(exports::table
        .filter(
            exports::state
                .eq("queued")
                .and(exports::created_at.lt(now - Duration::minutes(1)))
                .or(exports::state
                    .eq("running")
                    .and(exports::lease_until.lt(now))),
        )
        .order(exports::created_at.asc())
        .select(exports::id)
        .limit(10)
        .load(conn)?)
}

/// Removes the files of jobs finished more than `keep` ago; their rows stay, as `expired`.
pub fn prune(
    conn: &mut DbConnection,
    dir: &Path,
    now: NaiveDateTime,
    keep: Duration,
) -> Result<usize, AppError> {
    let old: Vec<(String, String)> = exports::table
        .filter(exports::state.eq("done"))
        .filter(exports::finished_at.lt(now - keep))
        .select((exports::id, exports::format))
        .limit(1000)
        .load(conn)?;
    for (id, ext) in &old {
        let path = dir.join(format!("{id}.{ext}"));
        if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(file = %path.display(), error = %e, "cannot remove an export file");
                continue;
            }
        }
        diesel::update(exports::table.find(id))
            .set(exports::state.eq("expired"))
            .execute(conn)?;
    }
    Ok(old.len())
}
