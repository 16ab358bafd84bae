//! The statistics part of `hotline bench` (`--stats-tickets 100000,1000000`): fills the tickets of
//! a year (2025, spread over every day and the departments, in every state, with their sign and
//! handling deadlines and reply events) by SQL generated in the database, then times a month of
//! indicators and writes the year's ledger as CSV and as XLSX, reporting the process's peak
//! resident memory during each export (the peak is reset before each one: /proc/self/clear_refs).

use std::fmt::Write as _;
use std::time::Instant;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::{bench_policy, staff};
use crate::auth::{Role, RoleSet};
use crate::config::Backend;
use crate::db::schema::departments;
use crate::db::DbConnection;
use crate::error::AppError;
use crate::stats::ledger::{self, LedgerFormat, LedgerSpec};
use crate::stats::StatsQuery;
use crate::tickets::Viewer;

/// Runs the statistics measurements for each table size (ascending).
pub fn run(conn: &mut DbConnection, sizes: &[usize], report: &mut String) -> Result<(), AppError> {
    if sizes.is_empty() {
        return Ok(());
    }
    let policy = bench_policy()?;
    let tz = policy.deadlines.calendar.time_zone();
    let now = crate::clock::Clock::system().now();
    let supervisor = Viewer::for_user(&staff(RoleSet::new([Role::Supervisor]), None), &policy, now);
    let departments: i64 = departments::table
        .filter(departments::code.like("D%"))
        .count()
        .get_result(conn)?;
    let mut filled = 0;
    for &size in sizes {
        let started = Instant::now();
        fill(conn, filled, size, departments)?;
        filled = filled.max(size);
        let _ = writeln!(
            report,
            "stats: filled {size} tickets of 2025 with their deadlines and events in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        // a month of indicators, three runs
        let mut runs = Vec::new();
        for _ in 0..3 {
            let q = StatsQuery {
                from: chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap_or_default(),
                to: chrono::NaiveDate::from_ymd_opt(2025, 6, 30).unwrap_or_default(),
                department_id: None,
                category_id: None,
                region_id: None,
                channel: None,
                kind: None,
                urgency: None,
                series: None,
            };
            let started = Instant::now();
            let ind = crate::stats::indicators(conn, &supervisor, tz, q)?;
            runs.push((started.elapsed(), ind.volume.total));
        }
        runs.sort();
        let _ = writeln!(
            report,
            "stats: indicators for 2025-06 over {size} tickets ({} in the month): median {:.0} ms (runs {})",
            runs[1].1,
            runs[1].0.as_secs_f64() * 1000.0,
            runs.iter()
                .map(|r| format!("{:.0}", r.0.as_secs_f64() * 1000.0))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for format in [LedgerFormat::Csv, LedgerFormat::Xlsx] {
            let spec = LedgerSpec {
                period: "2025".into(),
                from: chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default(),
                to: chrono::NaiveDate::from_ymd_opt(2025, 12, 31).unwrap_or_default(),
                department_id: None,
                department_path: None,
                format,
                include_confidential: true,
            };
            let path = std::env::temp_dir().join(format!(
                "hotline-bench-ledger-{}.{}",
                uuid::Uuid::new_v4().simple(),
                spec.extension()
            ));
            let before = reset_peak_rss();
            let started = Instant::now();
            let rows = ledger::write_file(conn, tz, now, &spec, &path, &mut |_, _| Ok(()))?;
            let secs = started.elapsed().as_secs_f64();
            let peak = peak_rss_kib();
            let size_mb = std::fs::metadata(&path)
                .map(|m| m.len() as f64 / 1e6)
                .unwrap_or(0.0);
            let _ = std::fs::remove_file(&path);
            let _ = writeln!(
                report,
                "stats: ledger 2025 as {}: {rows} rows in {secs:.1} s ({:.0} rows/s, {size_mb:.0} MB); peak RSS {} (before: {})",
                spec.extension(),
                rows as f64 / secs.max(1e-9),
                mib(peak),
                mib(before),
            );
        }
    }
    Ok(())
}

fn mib(kib: Option<u64>) -> String {
    match kib {
        Some(k) => format!("{:.0} MiB", k as f64 / 1024.0),
        None => "unknown (no /proc)".into(),
    }
}

/// Resets the kernel's peak-RSS mark of this process (Linux: `5` to /proc/self/clear_refs) and
/// answers the resident size now.
fn reset_peak_rss() -> Option<u64> {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    status_kib("VmRSS:")
}

/// The process's peak resident size since the last reset, in KiB.
pub(super) fn peak_rss_kib() -> Option<u64> {
    status_kib("VmHWM:")
}

fn status_kib(field: &str) -> Option<u64> {
    status_kib_of("/proc/self/status", field)
}

/// A memory figure (`VmHWM:`, `VmRSS:`) of the process whose status file is `path`, in KiB.
pub(super) fn status_kib_of(path: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// `CASE g.n % 8 WHEN 0 THEN … END` over [`TEXTS`].
fn texts_case(f: impl Fn(&(&str, &str)) -> String) -> String {
    let mut out = String::from("CASE g.n % 8");
    for (i, t) in TEXTS.iter().enumerate() {
        let _ = write!(out, " WHEN {i} THEN {}", f(t));
    }
    out.push_str(" END");
    out
}

/// Inserts tickets `from+1..=to` by SQL generated in the database: created over the 365 days of
/// 2025 (local morning hours), spread over the departments, one in twenty still dispatched, one
/// in twenty in progress, one in twenty replied, the rest closed after a callback; each with its
/// sign and handling deadlines (one in eleven late) and, once replied, a reply event.
fn fill(conn: &mut DbConnection, from: usize, to: usize, departments: i64) -> Result<(), AppError> {
    fill_where(conn, from, to, departments, "code LIKE 'D%'")
}

/// How long each step of a fill took, in seconds, in order.
pub type FillSteps = Vec<(&'static str, f64)>;

/// `n` tickets over the departments that have a parent (the load harness's demo county), with
/// their search index; answers how long each step took.
pub fn fill_tickets(conn: &mut DbConnection, n: usize) -> Result<FillSteps, AppError> {
    let departments: i64 = departments::table
        .filter(departments::parent_id.is_not_null())
        .count()
        .get_result(conn)?;
    let mut steps = FillSteps::new();
    with_indexes_deferred(conn, &mut steps, |conn, steps| {
        // in slices, the SQLite WAL copied back and emptied after each (the service's
        // connections checkpoint only now and then): one statement over a million rows grew it
        // past 1.6 GB
        const SLICE: usize = 100_000;
        let started = Instant::now();
        for from in (0..n).step_by(SLICE) {
            insert_where(
                conn,
                from,
                (from + SLICE).min(n),
                departments,
                "parent_id IS NOT NULL",
            )?;
            checkpoint(conn)?;
        }
        steps.push(("rows", started.elapsed().as_secs_f64()));
        let started = Instant::now();
        crate::tickets::search::index_missing(conn, 20_000)?;
        checkpoint(conn)?;
        steps.push(("search index", started.elapsed().as_secs_f64()));
        Ok(())
    })?;
    let started = Instant::now();
    analyze(conn)?;
    steps.push(("statistics", started.elapsed().as_secs_f64()));
    Ok(steps)
}

/// The tables a fill writes.
const FILLED_TABLES: [&str; 4] = [
    "tickets",
    "ticket_deadlines",
    "ticket_events",
    "ticket_search",
];

/// Runs a bulk fill with the filled tables' secondary indexes set aside (PostgreSQL): each is
/// dropped first and built again at the end, from all the rows at once — much faster than
/// updating it row by row (the GIN index of the search above all). Unique indexes stay (they
/// carry constraints the fill relies on). Only on an empty tickets table: a scratch database.
fn with_indexes_deferred(
    conn: &mut DbConnection,
    steps: &mut FillSteps,
    fill: impl FnOnce(&mut DbConnection, &mut FillSteps) -> Result<(), AppError>,
) -> Result<(), AppError> {
    use diesel::sql_types::Text;
    #[derive(QueryableByName)]
    struct Index {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Text)]
        definition: String,
    }
    let empty = crate::db::schema::tickets::table
        .count()
        .get_result::<i64>(conn)?
        == 0;
    if conn.backend() != Backend::Postgres || !empty {
        return fill(conn, steps);
    }
    let tables = FILLED_TABLES.map(|t| format!("'{t}'::regclass")).join(", ");
    let indexes: Vec<Index> = diesel::sql_query(format!(
        "SELECT c.relname::text AS name, pg_get_indexdef(i.indexrelid) AS definition \
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE i.indrelid IN ({tables}) AND NOT i.indisunique AND NOT i.indisprimary"
    ))
    .load(conn)?;
    for index in &indexes {
        conn.batch_execute(&format!("DROP INDEX \"{}\"", index.name))?;
    }
    let filled = fill(conn, steps);
    // built again even when the fill failed, so the database keeps its shape
    let started = Instant::now();
    conn.batch_execute("SET maintenance_work_mem = '512MB'")?;
    for index in &indexes {
        conn.batch_execute(&index.definition)?;
    }
    conn.batch_execute("RESET maintenance_work_mem")?;
    steps.push(("secondary indexes", started.elapsed().as_secs_f64()));
    filled
}

/// SQLite: copies the WAL back into the database and truncates it. PostgreSQL: nothing.
fn checkpoint(conn: &mut DbConnection) -> Result<(), AppError> {
    if conn.backend() == Backend::Sqlite {
        conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")?;
    }
    Ok(())
}

/// The title and description of the `i`-th of a run's calls, cycling through [`TEXTS`] as
/// the fill does (the title with `i` in it).
pub(super) fn text(i: usize) -> (String, &'static str) {
    let (title, description) = TEXTS[i % TEXTS.len()];
    let (before, after) = title.split_once("', '").unwrap_or((title, ""));
    (format!("{before}{i}{after}"), description)
}

/// Titles and descriptions the fill cycles through (one in eight speaks of 停水).
const TEXTS: [(&str, &str); 8] = [
    (
        "小区停水第', '号楼",
        "幸福小区3号楼从周一起停水，至今没有恢复，请尽快处理。",
    ),
    (
        "夜间施工噪音扰民', '号",
        "工地每晚十点后仍在施工，噪音很大，影响休息。",
    ),
    (
        "物业费上涨', '次",
        "物业公司未经业主同意上涨物业费，要求说明依据。",
    ),
    (
        "路灯不亮', '盏",
        "人民路路灯已坏一周，夜间行人不便，存在安全隐患。",
    ),
    (
        "拖欠工资', '人",
        "工资拖欠三个月，老板失联，请劳动监察介入。",
    ),
    (
        "垃圾清运不及时', '处",
        "小区垃圾桶满溢多日无人清运，气味难闻。",
    ),
    (
        "燃气味道', '户",
        "楼道里有燃气味道，担心泄漏，请燃气公司检查。",
    ),
    ("违章建筑', '处", "邻居在楼顶私搭乱建，影响采光和安全。"),
];

fn fill_where(
    conn: &mut DbConnection,
    from: usize,
    to: usize,
    departments: i64,
    department_filter: &str,
) -> Result<(), AppError> {
    insert_where(conn, from, to, departments, department_filter)?;
    analyze(conn)
}

/// Tickets `from + 1 ..= to` with their deadlines and events (see `fill`), no statistics.
fn insert_where(
    conn: &mut DbConnection,
    from: usize,
    to: usize,
    departments: i64,
    department_filter: &str,
) -> Result<(), AppError> {
    if to <= from {
        return Ok(());
    }
    let backend = conn.backend();
    let series = match backend {
        Backend::Postgres => format!("SELECT generate_series({}, {}) AS n", from + 1, to),
        Backend::Sqlite => format!(
            "WITH RECURSIVE s(n) AS (SELECT {} UNION ALL SELECT n + 1 FROM s WHERE n < {}) SELECT n FROM s",
            from + 1,
            to
        ),
    };
    // the intake time of ticket n, and a time `hours` after an expression
    let created = match backend {
        Backend::Postgres => {
            "(timestamp '2025-01-01 00:30' + make_interval(days => (s0.n % 365)::int, hours => (s0.n % 10)::int))"
                .to_string()
        }
        Backend::Sqlite => {
            "datetime('2025-01-01 00:30', '+' || (s0.n % 365) || ' days', '+' || (s0.n % 10) || ' hours')"
                .to_string()
        }
    };
    let plus = |e: &str, hours: i64| match backend {
        Backend::Postgres => format!("({e} + interval '{hours} hours')"),
        Backend::Sqlite => format!("datetime({e}, '+{hours} hours')"),
    };
    let c = "g.c";
    let late = "(g.n % 11 = 0)";
    let tickets = format!(
        "INSERT INTO tickets (id, number, channel, kind, urgency, status, attributes, title, \
           description, anonymous, confidential, lead_department_id, lead_department_path, version, \
           created_at, updated_at, dispatched_at, signed_at, replied_at, reply, closed_at, \
           callback_result, satisfaction, resolved, redo_count, reopen_count) \
         SELECT 'st' || g.n, 'ST' || g.n, \
           CASE g.n % 4 WHEN 0 THEN 'miniprogram' ELSE 'hotline' END, \
           CASE g.n % 3 WHEN 0 THEN 'complaint' ELSE 'help' END, 'normal', \
           CASE g.n % 20 WHEN 0 THEN 'dispatched' WHEN 1 THEN 'in_progress' WHEN 2 THEN 'replied' ELSE 'closed' END, \
           '{{}}', {title}, {description}, \
           false, false, d.id, d.path, 5, {c}, {c}, {disp}, \
           CASE WHEN g.n % 20 = 0 THEN NULL ELSE {signed} END, \
           CASE WHEN g.n % 20 IN (0, 1) THEN NULL ELSE {replied} END, \
           CASE WHEN g.n % 20 IN (0, 1) THEN NULL ELSE '已安排维修人员处理，现已恢复供水。' END, \
           CASE WHEN g.n % 20 IN (0, 1, 2) THEN NULL ELSE {closed} END, \
           CASE WHEN g.n % 20 IN (0, 1, 2) THEN NULL WHEN g.n % 7 = 0 THEN 'basically_satisfied' ELSE 'satisfied' END, \
           CASE WHEN g.n % 20 IN (0, 1, 2) THEN NULL WHEN g.n % 7 = 0 THEN 'basically_satisfied' ELSE 'satisfied' END, \
           CASE WHEN g.n % 20 IN (0, 1, 2) THEN NULL ELSE true END, \
           CASE WHEN g.n % 50 = 0 THEN 1 ELSE 0 END, 0 \
         FROM (SELECT n, {created} AS c FROM ({series}) AS s0) AS g \
         JOIN (SELECT id, path, row_number() OVER (ORDER BY id) - 1 AS k FROM departments \
               WHERE {department_filter}) AS d ON d.k = g.n % {departments};",
        title = texts_case(|(t, _)| {
            let (a, b) = t.split_once("', '").unwrap_or((t, ""));
            format!("'{a}' || g.n || '{b}'")
        }),
        description = texts_case(|(_, d)| format!("'{d}'")),
        disp = plus(c, 1),
        signed = plus(c, 2),
        replied = plus(c, 72),
        closed = plus(c, 96),
    );
    let deadlines = format!(
        "INSERT INTO ticket_deadlines (id, ticket_id, step, time_limit, started_at, due_at, \
           yellow_at, completed_at, overdue_minutes) \
         SELECT 'sgn' || g.n, 'st' || g.n, 'sign', '2h', {disp}, {sign_due}, {sign_yellow}, \
           CASE WHEN g.n % 20 = 0 THEN NULL WHEN {late} THEN {sign_late} ELSE {signed} END, \
           CASE WHEN g.n % 20 <> 0 AND {late} THEN 120 ELSE NULL END \
         FROM (SELECT n, {created} AS c FROM ({series}) AS s0) AS g; \
         INSERT INTO ticket_deadlines (id, ticket_id, step, time_limit, started_at, due_at, \
           yellow_at, completed_at, overdue_minutes) \
         SELECT 'hdl' || g.n, 'st' || g.n, 'handle', '5wd', {signed}, {handle_due}, {handle_yellow}, \
           CASE WHEN g.n % 20 IN (0, 1) THEN NULL ELSE {replied} END, NULL \
         FROM (SELECT n, {created} AS c FROM ({series}) AS s0) AS g WHERE g.n % 20 <> 0; \
         INSERT INTO ticket_events (id, ticket_id, seq, action, actor_kind, to_status, payload, \
           public, created_at) \
         SELECT 'rpl' || g.n, 'st' || g.n, 4, 'reply', 'user', 'replied', '{{}}', true, {replied} \
         FROM (SELECT n, {created} AS c FROM ({series}) AS s0) AS g WHERE g.n % 20 NOT IN (0, 1);",
        disp = plus(c, 1),
        sign_due = plus(c, 3),
        sign_yellow = plus(c, 2),
        sign_late = plus(c, 5),
        signed = plus(c, 2),
        handle_due = plus(c, 170),
        handle_yellow = plus(c, 146),
        replied = plus(c, 72),
    );
    conn.batch_execute(&tickets)?;
    conn.batch_execute(&deadlines)?;
    Ok(())
}

/// Fresh planner statistics (and, on PostgreSQL, a vacuumed visibility map, so that index-only
/// scans stay index-only) after a bulk load: a test cluster may run without autovacuum.
pub(super) fn analyze(conn: &mut DbConnection) -> Result<(), AppError> {
    match conn.backend() {
        // one statement each: VACUUM cannot run in the implicit transaction of a batch
        Backend::Postgres => {
            for table in FILLED_TABLES {
                conn.batch_execute(&format!("VACUUM ANALYZE {table}"))?;
            }
        }
        Backend::Sqlite => conn.batch_execute("ANALYZE")?,
    }
    Ok(())
}
