//! Ledgers (台账): every ticket of a month or a quarter of a department subtree with its key
//! times, each deadline met or missed, the reply and the callback result — as CSV (UTF-8 with a
//! BOM, so Excel on Chinese Windows opens it) or XLSX (rust_xlsxwriter in constant-memory mode).
//! Rows are read in keyset pages of 1,000 and written to a file under `data_dir/exports`, so a
//! ledger of a million rows never holds a million rows in memory; the file is then streamed to
//! the client and deleted. The row count is known before writing (the `X-Ledger-Rows` header).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::db::schema::{departments, ticket_deadlines, tickets};
use crate::db::DbConnection;
use crate::error::AppError;
use crate::tickets::model::TicketRow;
use crate::tickets::Viewer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LedgerFormat {
    Csv,
    Xlsx,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    /// A month `2025-11`, a quarter `2025-Q4` or a year `2025` (local dates of intake).
    pub period: String,
    /// The department subtree (department users: their own by default).
    pub department_id: Option<String>,
    /// `csv` (default) or `xlsx`.
    #[param(inline)]
    pub format: Option<LedgerFormat>,
}

/// The first and the last local date of `2025-11`, `2025-Q4` or the year `2025`.
pub fn period_dates(period: &str) -> Result<(NaiveDate, NaiveDate), AppError> {
    let bad = || {
        AppError::validation(
            "period: a month such as 2025-11, a quarter such as 2025-Q4 or a year such as 2025",
        )
    };
    if period.len() == 4 && period.bytes().all(|b| b.is_ascii_digit()) {
        let year: i32 = period.parse().map_err(|_| bad())?;
        let from = NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(bad)?;
        let to = NaiveDate::from_ymd_opt(year, 12, 31).ok_or_else(bad)?;
        return Ok((from, to));
    }
    let (year, rest) = period.split_once('-').ok_or_else(bad)?;
    let year: i32 = year.parse().map_err(|_| bad())?;
    let (first_month, months) = match rest.strip_prefix('Q') {
        Some(q) => {
            let q: u32 = q.parse().map_err(|_| bad())?;
            if !(1..=4).contains(&q) {
                return Err(bad());
            }
            (q * 3 - 2, 3)
        }
        None => (rest.parse::<u32>().map_err(|_| bad())?, 1),
    };
    let from = NaiveDate::from_ymd_opt(year, first_month, 1).ok_or_else(bad)?;
    let after = if first_month + months > 12 {
        NaiveDate::from_ymd_opt(year + 1, first_month + months - 12, 1)
    } else {
        NaiveDate::from_ymd_opt(year, first_month + months, 1)
    }
    .ok_or_else(bad)?;
    Ok((from, after.pred_opt().ok_or_else(bad)?))
}

const HEADER: [&str; 19] = [
    "工单编号",
    "受理时间",
    "渠道",
    "类型",
    "标题",
    "承办单位",
    "派单时间",
    "签收时间",
    "签收时限",
    "签收",
    "办理时限",
    "办理",
    "答复时间",
    "答复内容",
    "回访结果",
    "满意度",
    "是否解决",
    "办结时间",
    "状态",
];

/// A written ledger: its file and rows.
pub struct Written {
    pub path: PathBuf,
    pub rows: u64,
    pub file_name: String,
}

fn local(tz: Tz, t: Option<NaiveDateTime>) -> String {
    t.map(|t| {
        tz.from_utc_datetime(&t)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    })
    .unwrap_or_default()
}

/// `按时`, `超时 N 分钟`, `进行中` or `超期未完成` for a step's deadline.
fn verdict(
    d: Option<&(NaiveDateTime, Option<NaiveDateTime>, Option<i32>)>,
    now: NaiveDateTime,
) -> String {
    match d {
        None => String::new(),
        Some((_, Some(_), Some(0) | None)) => "按时".into(),
        Some((_, Some(_), Some(late))) => format!("超时{late}分钟"),
        Some((due, None, _)) if now >= *due => "超期未完成".into(),
        Some(_) => "进行中".into(),
    }
}

/// What a ledger covers, checked against its requester's visibility.
#[derive(Debug, Clone)]
pub struct LedgerSpec {
    pub period: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub department_id: Option<String>,
    /// The lead-department subtree (`None`: every ticket).
    pub department_path: Option<String>,
    pub format: LedgerFormat,
    /// Confidential tickets are in the ledger only for supervisors and admins.
    pub include_confidential: bool,
}

impl LedgerSpec {
    pub fn extension(&self) -> &'static str {
        match self.format {
            LedgerFormat::Csv => "csv",
            LedgerFormat::Xlsx => "xlsx",
        }
    }

    /// The name the file is downloaded under.
    pub fn file_name(&self) -> String {
        let scope = self.department_id.as_deref().unwrap_or("all");
        format!("ledger-{}-{scope}.{}", self.period, self.extension())
    }
}

/// Checks the period and the department against the viewer: a department user reads its own
/// subtree (by default) and nothing outside it.
pub fn resolve(
    conn: &mut DbConnection,
    viewer: &Viewer,
    q: LedgerQuery,
) -> Result<LedgerSpec, AppError> {
    let period = q.period.trim().to_string();
    let (from, to) = period_dates(&period)?;
    let path_filter = match &q.department_id {
        Some(id) => Some(
            departments::table
                .find(id)
                .select(departments::path)
                .first::<String>(conn)
                .optional()?
                .ok_or_else(|| AppError::validation("department_id: no such department"))?,
        ),
        None => None,
    };
    let path_filter = if viewer.is_department_user() {
        let own = viewer.actor.department_path.clone().unwrap_or_default();
        match path_filter {
            Some(p) if !p.starts_with(&own) => {
                return Err(AppError::Forbidden(
                    "a department reads the ledger of its own subtree".into(),
                ))
            }
            Some(p) => Some(p),
            None => Some(own),
        }
    } else {
        path_filter
    };
    Ok(LedgerSpec {
        period,
        from,
        to,
        department_id: q.department_id,
        department_path: path_filter,
        format: q.format.unwrap_or(LedgerFormat::Csv),
        include_confidential: viewer.actor.roles.contains(crate::auth::Role::Supervisor)
            || viewer.actor.roles.contains(crate::auth::Role::Admin),
    })
}

/// The tickets of the ledger (its rows), before keyset paging.
fn ledger_tickets<'a>(
    tz: Tz,
    spec: &LedgerSpec,
) -> tickets::BoxedQuery<'a, crate::db::MultiBackend> {
    let (start, end) = super::bounds(tz, spec.from, spec.to);
    let mut q = tickets::table
        .filter(tickets::created_at.ge(start))
        .filter(tickets::created_at.lt(end))
        .into_boxed();
    if let Some(p) = &spec.department_path {
        q = q.filter(tickets::lead_department_path.like(format!("{p}%")));
    }
    if !spec.include_confidential {
        q = q.filter(tickets::confidential.eq(false));
    }
    q
}

/// The number of rows the ledger will have.
pub fn count(conn: &mut DbConnection, tz: Tz, spec: &LedgerSpec) -> Result<u64, AppError> {
    let n: i64 = ledger_tickets(tz, spec).count().get_result(conn)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Writes the ledger to a file under `dir` and answers it (the synchronous endpoint).
pub fn write(
    conn: &mut DbConnection,
    viewer: &Viewer,
    tz: Tz,
    dir: &Path,
    q: LedgerQuery,
) -> Result<Written, AppError> {
    let spec = resolve(conn, viewer, q)?;
    crate::files::create_private_dir(dir)
        .map_err(|e| AppError::Internal(format!("exports directory: {e}")))?;
    let path = dir.join(format!("{}.{}", crate::db::new_id(), spec.extension()));
    let rows = write_file(conn, tz, viewer.now, &spec, &path, &mut |_, _| Ok(()))?;
    Ok(Written {
        path,
        rows,
        file_name: spec.file_name(),
    })
}

/// Writes the ledger of `spec` to `path`, reading keyset pages of 1,000 tickets; `progress` is
/// called after each page with the rows written so far (an export job records it).
pub fn write_file(
    conn: &mut DbConnection,
    tz: Tz,
    now: NaiveDateTime,
    spec: &LedgerSpec,
    path: &Path,
    progress: &mut dyn FnMut(&mut DbConnection, u64) -> Result<(), AppError>,
) -> Result<u64, AppError> {
    let names: HashMap<String, String> = departments::table
        .select((departments::id, departments::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut sink = Sink::open(spec.format, path)?;
    sink.row(&HEADER.map(str::to_string))?;
    let mut after: Option<(NaiveDateTime, String)> = None;
    let mut rows = 0u64;
    loop {
        let mut page = ledger_tickets(tz, spec);
        if let Some((t, id)) = &after {
            // `created_at >= t` first: an index range the database starts from, so each page
            // costs its own rows, not the rows before it
            page = page
                .filter(tickets::created_at.ge(*t))
                .filter(tickets::created_at.gt(*t).or(tickets::id.gt(id.clone())));
        }
        let page: Vec<TicketRow> = page
            .order((tickets::created_at.asc(), tickets::id.asc()))
            .limit(1000)
            .load(conn)?;
        let Some(last) = page.last() else { break };
        after = Some((last.created_at, last.id.clone()));
        let ids: Vec<&str> = page.iter().map(|t| t.id.as_str()).collect();
        let steps: Vec<StepRow> = ticket_deadlines::table
            .filter(ticket_deadlines::ticket_id.eq_any(&ids))
            .filter(ticket_deadlines::step.eq_any(["sign", "handle"]))
            .order(ticket_deadlines::started_at.asc())
            .select((
                ticket_deadlines::ticket_id,
                ticket_deadlines::step,
                ticket_deadlines::due_at,
                ticket_deadlines::completed_at,
                ticket_deadlines::overdue_minutes,
            ))
            .load(conn)?;
        // the latest deadline of each ticket's step (rows come oldest first)
        let mut latest: HashMap<(&str, &str), StepState> = HashMap::new();
        for s in &steps {
            latest.insert((s.0.as_str(), s.1.as_str()), (s.2, s.3, s.4));
        }
        for t in &page {
            let step = |name: &str| latest.get(&(t.id.as_str(), name)).copied();
            let (sign, handle) = (step("sign"), step("handle"));
            sink.row(&[
                t.number.clone(),
                local(tz, Some(t.created_at)),
                t.channel.to_string(),
                t.kind.to_string(),
                t.title.clone(),
                t.lead_department_id
                    .as_ref()
                    .and_then(|d| names.get(d).cloned())
                    .unwrap_or_default(),
                local(tz, t.dispatched_at),
                local(tz, t.signed_at),
                local(tz, sign.map(|s| s.0)),
                verdict(sign.as_ref(), now),
                local(tz, handle.map(|s| s.0)),
                verdict(handle.as_ref(), now),
                local(tz, t.replied_at),
                t.reply.clone().unwrap_or_default(),
                t.callback_result.map(|r| r.to_string()).unwrap_or_default(),
                t.satisfaction.map(|s| s.to_string()).unwrap_or_default(),
                t.resolved
                    .map(|r| if r { "是" } else { "否" }.to_string())
                    .unwrap_or_default(),
                local(tz, t.closed_at),
                t.status.to_string(),
            ])?;
            rows += 1;
        }
        progress(conn, rows)?;
    }
    sink.finish()?;
    Ok(rows)
}

/// A step's deadline: due, completed, minutes late.
type StepState = (NaiveDateTime, Option<NaiveDateTime>, Option<i32>);

/// A deadline: ticket, step, due, completed, minutes late.
type StepRow = (
    String,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<i32>,
);

enum Sink {
    Csv(Box<csv::Writer<std::fs::File>>),
    Xlsx {
        book: Box<rust_xlsxwriter::Workbook>,
        path: PathBuf,
        row: u32,
    },
}

fn io(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("ledger file: {e}"))
}

impl Sink {
    fn open(format: LedgerFormat, path: &Path) -> Result<Sink, AppError> {
        match format {
            LedgerFormat::Csv => {
                let mut file = crate::files::create_private(path).map_err(io)?;
                file.write_all(b"\xEF\xBB\xBF").map_err(io)?;
                Ok(Sink::Csv(Box::new(csv::Writer::from_writer(file))))
            }
            LedgerFormat::Xlsx => {
                let mut book = rust_xlsxwriter::Workbook::new();
                if let Some(dir) = path.parent() {
                    book.set_tempdir(dir).map_err(io)?;
                }
                book.add_worksheet_with_constant_memory()
                    .set_name("台账")
                    .map_err(io)?;
                Ok(Sink::Xlsx {
                    book: Box::new(book),
                    path: path.to_path_buf(),
                    row: 0,
                })
            }
        }
    }

    fn row(&mut self, cells: &[String]) -> Result<(), AppError> {
        match self {
            Sink::Csv(w) => w.write_record(cells).map_err(io),
            Sink::Xlsx { book, row, .. } => {
                let sheet = book.worksheet_from_index(0).map_err(io)?;
                for (col, cell) in cells.iter().enumerate() {
                    sheet
                        .write_string(*row, u16::try_from(col).unwrap_or(u16::MAX), cell)
                        .map_err(io)?;
                }
                *row += 1;
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<(), AppError> {
        match self {
            Sink::Csv(mut w) => w.flush().map_err(io),
            Sink::Xlsx { mut book, path, .. } => book.save(&path).map_err(io),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_quarters() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        assert_eq!(
            period_dates("2025-11").ok(),
            Some((d(2025, 11, 1), d(2025, 11, 30)))
        );
        assert_eq!(
            period_dates("2025-Q4").ok(),
            Some((d(2025, 10, 1), d(2025, 12, 31)))
        );
        assert_eq!(
            period_dates("2024-02").ok(),
            Some((d(2024, 2, 1), d(2024, 2, 29)))
        );
        assert_eq!(
            period_dates("2025").ok(),
            Some((d(2025, 1, 1), d(2025, 12, 31)))
        );
        for bad in ["202", "2025-13", "2025-Q5", "x-11", "2025-Q0"] {
            assert!(period_dates(bad).is_err(), "{bad}");
        }
    }
}
