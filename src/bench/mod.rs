//! `hotline bench`: measures bulk import and routing on generated data of a city's size
//! (15,000 regions, 2,000 rules by default) in a scratch database. Figures in docs/ come from here.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub mod load;
mod stats;

use crate::bulk::{self, Dataset, Format};
use crate::clock::Clock;
use crate::db::{self, DbConnection};
use crate::error::AppError;
use crate::ids::{CategoryId, RegionId};
use crate::routing::{self, RoutingRequest};
use crate::vocab::Kind;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub regions: usize,
    pub rules: usize,
    pub previews: usize,
    pub tickets: usize,
    /// Closed tickets to have in the table at each sweeper measurement (ascending; empty: skip).
    pub sweeper_closed: Vec<usize>,
    /// Open tickets with a warning due, for the sweeper measurements.
    pub sweeper_open: usize,
    /// Tickets of 2025 to have in the table at each statistics measurement (ascending; empty:
    /// skip): a month of indicators and the year's ledger as CSV and XLSX.
    pub stats_tickets: Vec<usize>,
}

const TOWNS: usize = 30;
const GROUPS: usize = 10;
const CATEGORIES_PER_GROUP: usize = 10;
const KEYWORDS: &[&str] = &[
    "停水", "停电", "噪音", "欠薪", "物业", "路灯", "冰雹", "燃气", "垃圾", "违建",
];

fn square(lng: f64, lat: f64, size: f64) -> String {
    format!(
        "{{\"type\":\"Polygon\",\"coordinates\":[[[{lng:.6},{lat:.6}],[{:.6},{lat:.6}],[{:.6},{:.6}],[{lng:.6},{:.6}],[{lng:.6},{lat:.6}]]]}}",
        lng + size,
        lng + size,
        lat + size,
        lat + size
    )
}

fn csv_field(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A county, `TOWNS` towns, and grids filling the rest, each grid a small square.
fn regions_csv(total: usize) -> String {
    let mut out = String::from("code,name,level,parent_code,center_lat,center_lng,polygon\n");
    let _ = writeln!(
        out,
        "C0,County,county,,,,{}",
        csv_field(&square(118.0, 36.0, 3.0))
    );
    let grids = total.saturating_sub(1 + TOWNS);
    let per_town = grids.div_ceil(TOWNS).max(1);
    let side = (per_town as f64).sqrt().ceil() as usize;
    let cell = 0.1 / side as f64;
    let mut made = 0;
    for t in 0..TOWNS {
        let (tlng, tlat) = (118.0 + (t % 6) as f64 * 0.5, 36.0 + (t / 6) as f64 * 0.5);
        let _ = writeln!(
            out,
            "T{t},Town {t},town,C0,,,{}",
            csv_field(&square(tlng, tlat, 0.1))
        );
        for g in 0..per_town {
            if made == grids {
                break;
            }
            let (glng, glat) = (
                tlng + (g % side) as f64 * cell,
                tlat + (g / side) as f64 * cell,
            );
            let _ = writeln!(
                out,
                "T{t}G{g},Grid {t}-{g},grid,T{t},,,{}",
                csv_field(&square(glng, glat, cell))
            );
            made += 1;
        }
    }
    out
}

fn departments_csv() -> String {
    let mut out = String::from("code,name,level,parent_code\nGOV,Government,county,\n");
    for d in 0..GROUPS * 3 {
        let _ = writeln!(out, "D{d},Department {d},department,GOV");
    }
    for t in 0..TOWNS {
        let _ = writeln!(out, "TD{t},Town office {t},town,GOV");
    }
    out
}

fn categories_csv() -> String {
    let mut out = String::from("code,name,parent_code,default_department_code\n");
    for g in 0..GROUPS {
        let _ = writeln!(out, "G{g},Group {g},,D{g}");
        for c in 0..CATEGORIES_PER_GROUP {
            let _ = writeln!(out, "G{g}.{c},Category {g}.{c},G{g},");
        }
    }
    out
}

/// Rules of every shape: by category, by category and town, by keyword, by kind.
fn rules_csv(total: usize, rng: &mut StdRng) -> String {
    let mut out = String::from(
        "name,priority,category_code,region_code,kind,keywords,lead_department_code\n",
    );
    for r in 0..total {
        let g = rng.gen_range(0..GROUPS);
        let c = rng.gen_range(0..CATEGORIES_PER_GROUP);
        let dept = rng.gen_range(0..GROUPS * 3);
        let priority = rng.gen_range(1..100);
        let line = match r % 4 {
            0 => format!("R{r},{priority},G{g}.{c},,,,D{dept}"),
            1 => format!(
                "R{r},{priority},G{g},T{},,,TD{}",
                rng.gen_range(0..TOWNS),
                rng.gen_range(0..TOWNS)
            ),
            2 => format!(
                "R{r},{priority},,,,{},D{dept}",
                KEYWORDS[rng.gen_range(0..KEYWORDS.len())]
            ),
            _ => format!("R{r},{priority},G{g},,complaint,,D{dept}"),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Runs the benchmark against the database of `pool` (which must hold no regions yet).
pub fn run(pool: &db::Pool, options: &BenchOptions) -> Result<String, AppError> {
    let mut conn = pool
        .get()
        .map_err(|e| AppError::Unavailable(format!("no database connection: {e}")))?;
    let conn: &mut DbConnection = &mut conn;
    db::run_migrations(conn)?;
    let now = Clock::system().now();
    let mut report = format!("backend: {:?}\n", conn.backend());
    let mut rng = StdRng::seed_from_u64(12345);

    let regions = regions_csv(options.regions);
    let started = Instant::now();
    let r = bulk::import(
        conn,
        Dataset::Regions,
        Format::Csv,
        regions.as_bytes(),
        None,
        now,
    )?;
    let _ = writeln!(
        report,
        "import {} regions (CSV, with polygons): {:.2} s",
        r.rows,
        started.elapsed().as_secs_f64()
    );

    bulk::import(
        conn,
        Dataset::Departments,
        Format::Csv,
        departments_csv().as_bytes(),
        None,
        now,
    )?;
    bulk::import(
        conn,
        Dataset::Categories,
        Format::Csv,
        categories_csv().as_bytes(),
        None,
        now,
    )?;
    let rules = rules_csv(options.rules, &mut rng);
    let started = Instant::now();
    let r = bulk::import(
        conn,
        Dataset::Rules,
        Format::Csv,
        rules.as_bytes(),
        None,
        now,
    )?;
    let _ = writeln!(
        report,
        "import {} routing rules (CSV): {:.2} s",
        r.rows,
        started.elapsed().as_secs_f64()
    );

    use crate::db::schema::{categories, regions as regions_table};
    use diesel::prelude::*;
    let category_ids: Vec<String> = categories::table
        .filter(categories::parent_id.is_not_null())
        .select(categories::id)
        .load(conn)?;
    let grid_ids: Vec<String> = regions_table::table
        .filter(regions_table::level.eq("grid"))
        .select(regions_table::id)
        .limit(2000)
        .load(conn)?;

    let mut by_id = Vec::with_capacity(options.previews);
    let mut by_point = Vec::with_capacity(options.previews);
    for i in 0..options.previews {
        let request = RoutingRequest {
            category_id: Some(CategoryId(
                category_ids[rng.gen_range(0..category_ids.len())].clone(),
            )),
            region_id: Some(RegionId(grid_ids[rng.gen_range(0..grid_ids.len())].clone())),
            kind: Some(if i % 2 == 0 {
                Kind::Complaint
            } else {
                Kind::Help
            }),
            text: format!("小区{}三天了", KEYWORDS[rng.gen_range(0..KEYWORDS.len())]),
            ..Default::default()
        };
        let started = Instant::now();
        let result = routing::route(conn, &request)?;
        by_id.push(started.elapsed());
        if result.candidates.is_empty() {
            return Err(AppError::Internal("routing returned no candidate".into()));
        }
        let point = RoutingRequest {
            region_id: None,
            lat: Some(36.0 + rng.gen_range(0.0..0.1)),
            lng: Some(118.0 + rng.gen_range(0.0..0.1)),
            ..request
        };
        let started = Instant::now();
        routing::route(conn, &point)?;
        by_point.push(started.elapsed());
    }
    for (label, mut samples) in [
        ("by region id", by_id),
        ("by lat/lng (point-in-polygon)", by_point),
    ] {
        samples.sort();
        let _ = writeln!(
            report,
            "routing preview {label}, {} rules, {} calls: p50 {}, p95 {}, p99 {}, max {}",
            options.rules,
            samples.len(),
            ms(percentile(&samples, 0.50)),
            ms(percentile(&samples, 0.95)),
            ms(percentile(&samples, 0.99)),
            ms(percentile(&samples, 1.0)),
        );
    }
    tickets_bench(
        conn,
        options,
        &category_ids,
        &grid_ids,
        &mut rng,
        &mut report,
    )?;
    sweeper(
        conn,
        &options.sweeper_closed,
        options.sweeper_open,
        &mut report,
    )?;
    stats::run(conn, &options.stats_tickets, &mut report)?;
    Ok(report)
}

fn timed<T>(
    samples: &mut Vec<Duration>,
    f: impl FnOnce() -> Result<T, AppError>,
) -> Result<T, AppError> {
    let started = Instant::now();
    let value = f()?;
    samples.push(started.elapsed());
    Ok(value)
}

fn summary(label: &str, mut samples: Vec<Duration>) -> String {
    samples.sort();
    format!(
        "{label}, {} calls: p50 {}, p95 {}, p99 {}, max {}\n",
        samples.len(),
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.95)),
        ms(percentile(&samples, 0.99)),
        ms(percentile(&samples, 1.0)),
    )
}

/// The ticket rules of the shipped configuration (calendar, time limits, follow-up).
fn bench_policy() -> Result<crate::tickets::TicketPolicy, AppError> {
    let settings = crate::config::Settings::load(
        std::path::Path::new("config"),
        &crate::config::Overrides::default(),
    )
    .map_err(|e| AppError::Config(e.to_string()))?;
    Ok(crate::tickets::TicketPolicy {
        auto_dispatch: false,
        department_contact_roles: vec![crate::auth::Role::DepartmentAdmin],
        deadlines: std::sync::Arc::new(crate::tickets::deadlines::DeadlineRules::new(
            settings
                .calendar
                .build()
                .map_err(|e| AppError::Config(e.to_string()))?,
            settings.deadlines.clone(),
        )),
        followup: crate::tickets::Followup::from(&settings.tickets),
    })
}

/// A staff member with `roles`, of `department` (id, path) if given.
fn staff(
    roles: crate::auth::RoleSet,
    department: Option<(crate::ids::DepartmentId, String)>,
) -> crate::auth::UserPrincipal {
    crate::auth::UserPrincipal {
        id: crate::ids::UserId::generate(),
        username: "bench".into(),
        display_name: "bench".into(),
        roles,
        department_id: department.as_ref().map(|(id, _)| id.clone()),
        department_path: department.map(|(_, path)| path),
        session_id: crate::ids::SessionId::generate(),
    }
}

/// Ticket intake and the queues on a table of `options.tickets` tickets.
fn tickets_bench(
    conn: &mut DbConnection,
    options: &BenchOptions,
    category_ids: &[String],
    grid_ids: &[String],
    rng: &mut StdRng,
    report: &mut String,
) -> Result<(), AppError> {
    use crate::auth::{Role, RoleSet};
    use crate::db::schema::departments;
    use crate::ids::{DepartmentId, TicketId};
    use crate::pagination::PageParams;
    use crate::tickets::model::{ActionBody, CitizenInput, NewTicket, Queue, TicketFilter};
    use crate::tickets::state::Action;
    use crate::tickets::{self, Viewer};
    use diesel::prelude::*;

    if options.tickets == 0 {
        return Ok(());
    }
    let policy = bench_policy()?;
    let now = Clock::system().now();
    let dispatcher = Viewer::for_user(&staff(RoleSet::new([Role::Dispatcher]), None), &policy, now);
    let department_ids: Vec<String> = departments::table
        .filter(departments::code.like("D%"))
        .select(departments::id)
        .load(conn)?;
    let mut create = Vec::with_capacity(options.tickets);
    let mut dispatch = Vec::new();
    let started = Instant::now();
    for i in 0..options.tickets {
        let input = NewTicket {
            kind: Some(if i % 3 == 0 {
                Kind::Complaint
            } else {
                Kind::Help
            }),
            category_id: Some(CategoryId(
                category_ids[rng.gen_range(0..category_ids.len())].clone(),
            )),
            region_id: Some(RegionId(grid_ids[rng.gen_range(0..grid_ids.len())].clone())),
            title: format!("工单 {i}"),
            description: "小区停水三天了，请尽快处理".into(),
            citizen: Some(CitizenInput {
                phone: Some(format!("138{:08}", i % 5000)),
                ..Default::default()
            }),
            ..Default::default()
        };
        let row = timed(&mut create, || {
            tickets::create(conn, &dispatcher, &policy, input, now).map(|taken| taken.row)
        })?;
        // four in five tickets move on to a department
        if i % 5 != 0 {
            let body = ActionBody {
                department_id: Some(DepartmentId(
                    department_ids[i % department_ids.len()].clone(),
                )),
                ..Default::default()
            };
            timed(&mut dispatch, || {
                tickets::act(
                    conn,
                    &dispatcher,
                    &TicketId(row.id),
                    Action::Dispatch,
                    body,
                    None,
                    now,
                )
            })?;
        }
    }
    let _ = writeln!(
        report,
        "created {} tickets (80% dispatched) in {:.2} s",
        options.tickets,
        started.elapsed().as_secs_f64()
    );
    report.push_str(&summary("ticket intake (create)", create));
    report.push_str(&summary("ticket dispatch (action)", dispatch));

    // department 1 leads every thirtieth dispatched ticket (department 0 gets none: i % 30 == 0 is never dispatched)
    let department = DepartmentId(department_ids[1 % department_ids.len()].clone());
    let path: String = departments::table
        .find(department.as_str())
        .select(departments::path)
        .first(conn)?;
    let dept_staff = Viewer::for_user(
        &staff(
            RoleSet::new([Role::DepartmentStaff]),
            Some((department, path)),
        ),
        &policy,
        now,
    );
    let page = PageParams {
        limit: Some(50),
        cursor: None,
    }
    .validate()?;
    let filters: Vec<(&str, &Viewer, TicketFilter)> = vec![
        (
            "list: dispatch queue, first page of 50",
            &dispatcher,
            TicketFilter {
                queue: Some(Queue::Dispatch),
                ..Default::default()
            },
        ),
        (
            "list: a department's to-sign queue",
            &dept_staff,
            TicketFilter {
                queue: Some(Queue::ToSign),
                ..Default::default()
            },
        ),
        (
            "list: everything a department sees",
            &dept_staff,
            TicketFilter::default(),
        ),
        (
            "list: a caller's tickets by phone",
            &dispatcher,
            TicketFilter {
                phone: Some("13800000042".into()),
                ..Default::default()
            },
        ),
    ];
    for (label, viewer, filter) in filters {
        let mut samples = Vec::new();
        let mut rows = 0;
        for _ in 0..200 {
            rows = timed(&mut samples, || tickets::list(conn, viewer, &filter, &page))?
                .items
                .len();
        }
        report.push_str(&summary(&format!("{label} ({rows} rows)"), samples));
    }
    Ok(())
}

/// Rows inserted by one SQL statement per table, generated by the database itself
/// (`generate_series` on PostgreSQL, a recursive CTE on SQLite): a million tickets load in
/// seconds.
fn fill_sql(
    conn: &mut DbConnection,
    prefix: &str,
    from: usize,
    to: usize,
    closed: bool,
) -> Result<(), AppError> {
    use diesel::connection::SimpleConnection;
    if to <= from {
        return Ok(());
    }
    let (series, ago, due, yellow, now) = match conn.backend() {
        crate::config::Backend::Postgres => (
            format!("SELECT generate_series({}, {}) AS n", from + 1, to),
            "(now() AT TIME ZONE 'utc' - interval '1 day')",
            "(now() AT TIME ZONE 'utc' - interval '22 hours')",
            "(now() AT TIME ZONE 'utc' - interval '23 hours')",
            "(now() AT TIME ZONE 'utc')",
        ),
        crate::config::Backend::Sqlite => (
            format!(
                "WITH RECURSIVE s(n) AS (SELECT {} UNION ALL SELECT n + 1 FROM s WHERE n < {}) SELECT n FROM s",
                from + 1,
                to
            ),
            "datetime('now', '-1 day')",
            "datetime('now', '-22 hours')",
            "datetime('now', '-23 hours')",
            "datetime('now')",
        ),
    };
    let (status, completed) = if closed {
        ("closed", now)
    } else {
        ("registered", "NULL")
    };
    conn.batch_execute(&format!(
        "INSERT INTO tickets (id, number, channel, kind, urgency, status, attributes, title, \
           description, anonymous, confidential, version, created_at, updated_at) \
         SELECT '{prefix}' || g.n, '{prefix}' || g.n, 'hotline', 'help', 'normal', '{status}', '{{}}', \
           '停水 ' || g.n, '小区停水', false, false, 1, {ago}, {ago} FROM ({series}) AS g; \
         INSERT INTO ticket_deadlines (id, ticket_id, step, time_limit, started_at, due_at, \
           yellow_at, completed_at) \
         SELECT 'd{prefix}' || g.n, '{prefix}' || g.n, 'dispatch', '2h', {ago}, {due}, {yellow}, \
           {completed} FROM ({series}) AS g;"
    ))?;
    Ok(())
}

/// One sweeper pass (a full batch of warnings) with `open` tickets owing warnings, as the closed
/// tickets grow: the cost must follow the tickets coming due, not the table.
pub fn sweeper(
    conn: &mut DbConnection,
    closed_sizes: &[usize],
    open: usize,
    report: &mut String,
) -> Result<(), AppError> {
    if closed_sizes.is_empty() {
        return Ok(());
    }
    fill_sql(conn, "bo", 0, open, false)?;
    let mut closed_so_far = 0;
    for &closed in closed_sizes {
        let started = Instant::now();
        fill_sql(conn, "bc", closed_so_far, closed, true)?;
        closed_so_far = closed_so_far.max(closed);
        let fill = started.elapsed().as_secs_f64();
        let now = Clock::system().now();
        let started = Instant::now();
        let recorded = crate::tickets::deadlines::sweep(conn, now, 500)?;
        let pass = started.elapsed().as_secs_f64();
        let _ = writeln!(
            report,
            "sweeper pass with {closed} closed and {open} open tickets: {recorded} warnings in {:.1} ms ({:.1} s to fill)",
            pass * 1000.0,
            fill
        );
    }
    Ok(())
}
