//! Indicators (docs/indicators.md): figures of the tickets taken in during a period of local
//! calendar dates, under filters, each recomputable from the stored tickets, deadlines and events
//! by the formula written next to it. Department users see their own subtree; hotline staff and
//! supervisors everything.
//!
//! Today the figures are computed from the rows at each request (exact, and fast enough for a
//! county); summary tables maintained on write come with the city-scale work.

pub mod audit;
pub mod exports;
pub mod ledger;

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::schema::{
    categories, departments, regions, ticket_deadlines, ticket_events, tickets,
};
use crate::db::DbConnection;
use crate::error::AppError;
use crate::tickets::Viewer;
use crate::vocab::{CallbackResult, Channel, ExtensionState, Kind, Satisfaction, Status, Urgency};

/// The period and filters of every indicator.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// First local calendar date of the period (inclusive), `YYYY-MM-DD`.
    pub from: NaiveDate,
    /// Last local calendar date (inclusive); at most 366 days after `from`.
    pub to: NaiveDate,
    /// A department and every department below it (the lead department).
    pub department_id: Option<String>,
    /// A category and its sub-categories.
    pub category_id: Option<String>,
    /// A region and its sub-regions.
    pub region_id: Option<String>,
    pub channel: Option<Channel>,
    pub kind: Option<Kind>,
    pub urgency: Option<Urgency>,
    /// The time series' buckets: `day` (default), `week` (ISO) or `month`.
    #[param(inline)]
    pub series: Option<Bucket>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    Day,
    Week,
    Month,
}

/// A rate with what it is made of: `value` = `numerator` / `denominator` (null when 0/0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Rate {
    pub numerator: i64,
    pub denominator: i64,
    pub value: Option<f64>,
}

impl Rate {
    fn of(numerator: i64, denominator: i64) -> Rate {
        Rate {
            numerator,
            denominator,
            value: (denominator > 0).then(|| numerator as f64 / denominator as f64),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Volume {
    pub total: i64,
    pub by_channel: BTreeMap<String, i64>,
    pub by_kind: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rates {
    /// Sign-for steps met ÷ (sign-for steps completed + still open and overdue).
    pub sign_on_time: Rate,
    /// Handling steps met ÷ (handling steps completed + still open and overdue): a ticket left
    /// open past its deadline counts as late.
    pub on_time_completion: Rate,
    /// Citizens' verdicts "resolved" ÷ verdicts given.
    pub resolution: Rate,
    /// (satisfied + basically satisfied) ÷ verdicts given.
    pub satisfaction: Rate,
    /// Tickets returned by a department at least once ÷ tickets dispatched.
    pub returns: Rate,
    /// Tickets sent back after the callback at least once ÷ tickets replied.
    pub redo: Rate,
    /// Tickets with an approved extension ÷ tickets dispatched.
    pub extension: Rate,
    /// Tickets reopened ÷ tickets closed at least once.
    pub reopen: Rate,
    /// Tickets answered directly by the hotline ÷ all tickets.
    pub direct_answer: Rate,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SeriesPoint {
    /// `2026-11-24`, `2026-W48` or `2026-11`.
    pub bucket: String,
    pub created: i64,
    pub closed: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Indicators {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub time_zone: String,
    pub volume: Volume,
    pub rates: Rates,
    /// Steps of these tickets open and past due now, by step.
    pub overdue_now: BTreeMap<String, i64>,
    /// Tickets closed with no citizen reached (counted apart from the verdicts).
    pub unreachable: i64,
    pub series: Vec<SeriesPoint>,
}

type TicketFacts = (
    String,
    NaiveDateTime,
    Channel,
    Kind,
    Status,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<ExtensionState>,
    Option<CallbackResult>,
    Option<Satisfaction>,
    Option<bool>,
    i32,
    i32,
);

/// The tree path of the department, category or region a filter names (422 when unknown).
fn path_of(conn: &mut DbConnection, field: &str, id: &str) -> Result<String, AppError> {
    let found: Option<String> = match field {
        "department_id" => departments::table
            .find(id)
            .select(departments::path)
            .first(conn)
            .optional()?,
        "category_id" => categories::table
            .find(id)
            .select(categories::path)
            .first(conn)
            .optional()?,
        _ => regions::table
            .find(id)
            .select(regions::path)
            .first(conn)
            .optional()?,
    };
    found.ok_or_else(|| {
        AppError::validation(format!("{field}: no such {}", &field[..field.len() - 3]))
    })
}

/// The UTC instants of the local period's start and end (exclusive).
fn bounds(tz: Tz, from: NaiveDate, to: NaiveDate) -> (NaiveDateTime, NaiveDateTime) {
    let at = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
            .earliest()
            .map(|t| t.naive_utc())
            .unwrap_or_else(|| d.and_time(NaiveTime::MIN))
    };
    (at(from), at(to + chrono::Duration::days(1)))
}

/// Computes the indicators for the viewer.
pub fn indicators(
    conn: &mut DbConnection,
    viewer: &Viewer,
    tz: Tz,
    q: StatsQuery,
) -> Result<Indicators, AppError> {
    if q.to < q.from {
        return Err(AppError::validation("to: before from"));
    }
    if (q.to - q.from).num_days() > 366 {
        return Err(AppError::validation("to: at most 366 days after from"));
    }
    let dept_path = match &q.department_id {
        Some(id) => Some(path_of(conn, "department_id", id)?),
        None => None,
    };
    // a department sees its own subtree only
    let dept_path = if viewer.is_department_user() {
        let own = viewer.actor.department_path.clone().unwrap_or_default();
        match dept_path {
            Some(p) if !p.starts_with(&own) => {
                return Err(AppError::Forbidden(
                    "a department sees the figures of its own subtree".into(),
                ))
            }
            Some(p) => Some(p),
            None => Some(own),
        }
    } else {
        dept_path
    };
    let cat_path = match &q.category_id {
        Some(id) => Some(path_of(conn, "category_id", id)?),
        None => None,
    };
    let region_path = match &q.region_id {
        Some(id) => Some(path_of(conn, "region_id", id)?),
        None => None,
    };
    let (start, end) = bounds(tz, q.from, q.to);
    // the same filters over the tickets table, alone or joined
    macro_rules! filtered {
        ($source:expr) => {{
            let mut t = $source
                .filter(tickets::created_at.ge(start))
                .filter(tickets::created_at.lt(end))
                .filter(tickets::status.ne(Status::Merged))
                .into_boxed();
            if let Some(p) = &dept_path {
                t = t.filter(tickets::lead_department_path.like(format!("{p}%")));
            }
            if let Some(p) = &cat_path {
                let under = categories::table
                    .filter(categories::path.like(format!("{p}%")))
                    .select(categories::id.nullable());
                t = t.filter(tickets::category_id.eq_any(under));
            }
            if let Some(p) = &region_path {
                let under = regions::table
                    .filter(regions::path.like(format!("{p}%")))
                    .select(regions::id.nullable());
                t = t.filter(tickets::region_id.eq_any(under));
            }
            if let Some(c) = q.channel {
                t = t.filter(tickets::channel.eq(c));
            }
            if let Some(k) = q.kind {
                t = t.filter(tickets::kind.eq(k));
            }
            if let Some(u) = q.urgency {
                t = t.filter(tickets::urgency.eq(u));
            }
            t
        }};
    }
    let facts: Vec<TicketFacts> = filtered!(tickets::table)
        .select((
            tickets::id,
            tickets::created_at,
            tickets::channel,
            tickets::kind,
            tickets::status,
            tickets::dispatched_at,
            tickets::closed_at,
            tickets::extension_state,
            tickets::callback_result,
            tickets::satisfaction,
            tickets::resolved,
            tickets::redo_count,
            tickets::reopen_count,
        ))
        .load(conn)?;
    // the steps and the marks are counted by the database: a few rows, however many tickets
    use diesel::dsl::sql;
    use diesel::sql_types::{BigInt, Timestamp};
    let now = viewer.now;
    // one row of counts: per step, completed and completed in time (sign, handle), and open
    // (not paused) past due now (every step)
    let done = |step: &str| {
        sql::<BigInt>(&format!(
            "count(*) FILTER (WHERE ticket_deadlines.step = '{step}' \
             AND ticket_deadlines.completed_at IS NOT NULL)"
        ))
    };
    let met = |step: &str| {
        sql::<BigInt>(&format!(
            "count(*) FILTER (WHERE ticket_deadlines.step = '{step}' \
             AND ticket_deadlines.completed_at IS NOT NULL \
             AND COALESCE(ticket_deadlines.overdue_minutes, 0) = 0)"
        ))
    };
    let late = |step: &str| {
        sql::<BigInt>(&format!(
            "count(*) FILTER (WHERE ticket_deadlines.step = '{step}' \
             AND ticket_deadlines.completed_at IS NULL AND ticket_deadlines.paused_at IS NULL \
             AND ticket_deadlines.due_at <= "
        ))
        .bind::<Timestamp, _>(now)
        .sql(")")
    };
    let counts: (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) =
        filtered!(ticket_deadlines::table.inner_join(tickets::table))
            .select((
                done("sign"),
                met("sign"),
                done("handle"),
                met("handle"),
                late("dispatch"),
                late("sign"),
                late("return_window"),
                late("handle"),
                late("callback"),
                late("supervision"),
            ))
            .first(conn)?;
    let steps: Vec<StepTotals> = vec![
        ("dispatch".into(), 0, 0, counts.4),
        ("sign".into(), counts.0, counts.1, counts.5),
        ("return_window".into(), 0, 0, counts.6),
        ("handle".into(), counts.2, counts.3, counts.7),
        ("callback".into(), 0, 0, counts.8),
        ("supervision".into(), 0, 0, counts.9),
    ];
    let marks: Marks = filtered!(ticket_events::table.inner_join(tickets::table))
        .filter(ticket_events::action.eq_any(["return", "reply", "direct_answer"]))
        .select((
            sql::<BigInt>(
                "count(DISTINCT ticket_events.ticket_id) FILTER \
                 (WHERE ticket_events.action = 'return')",
            ),
            sql::<BigInt>(
                "count(DISTINCT ticket_events.ticket_id) FILTER \
                 (WHERE ticket_events.action IN ('reply', 'direct_answer'))",
            ),
            sql::<BigInt>(
                "count(DISTINCT ticket_events.ticket_id) FILTER \
                 (WHERE ticket_events.action = 'direct_answer')",
            ),
        ))
        .first(conn)?;
    Ok(compute(&q, tz, &facts, &steps, marks))
}

/// Per step: completed, completed in time, open (not paused) and past due now.
type StepTotals = (String, i64, i64, i64);

/// Tickets with a return; with a reply or a direct answer; with a direct answer.
type Marks = (i64, i64, i64);

/// The formulas of docs/indicators.md over the loaded rows (pure).
fn compute(
    q: &StatsQuery,
    tz: Tz,
    facts: &[TicketFacts],
    steps: &[StepTotals],
    marks: Marks,
) -> Indicators {
    let count = |f: &dyn Fn(&TicketFacts) -> bool| facts.iter().filter(|t| f(t)).count() as i64;
    let (returned, replied, direct_answered) = marks;
    let mut by_channel = BTreeMap::new();
    let mut by_kind = BTreeMap::new();
    for t in facts {
        *by_channel.entry(t.2.as_str().to_string()).or_insert(0) += 1;
        *by_kind.entry(t.3.as_str().to_string()).or_insert(0) += 1;
    }
    // a step counts when completed, or open (not paused) and past due now
    let on_time = |step: &str| {
        let (met, counted) = steps
            .iter()
            .filter(|r| r.0 == step)
            .fold((0, 0), |(m, c), r| (m + r.2, c + r.1 + r.3));
        Rate::of(met, counted)
    };
    let mut overdue_now = BTreeMap::new();
    for (step, _, _, overdue) in steps {
        if *overdue > 0 {
            *overdue_now.entry(step.clone()).or_insert(0) += *overdue;
        }
    }
    let verdicts = count(&|t| t.9.is_some());
    let dispatched = count(&|t| t.5.is_some());
    let rates = Rates {
        sign_on_time: on_time("sign"),
        on_time_completion: on_time("handle"),
        resolution: Rate::of(count(&|t| t.9.is_some() && t.10 == Some(true)), verdicts),
        satisfaction: Rate::of(
            count(&|t| {
                matches!(
                    t.9,
                    Some(Satisfaction::Satisfied | Satisfaction::BasicallySatisfied)
                )
            }),
            verdicts,
        ),
        returns: Rate::of(returned, dispatched),
        redo: Rate::of(count(&|t| t.11 > 0), replied),
        extension: Rate::of(
            count(&|t| t.7 == Some(ExtensionState::Approved)),
            dispatched,
        ),
        reopen: Rate::of(
            count(&|t| t.12 > 0),
            count(&|t| t.12 > 0 || t.4 == Status::Closed),
        ),
        direct_answer: Rate::of(direct_answered, facts.len() as i64),
    };
    let bucket = q.series.unwrap_or(Bucket::Day);
    let label = |t: NaiveDateTime| {
        let d = tz.from_utc_datetime(&t).date_naive();
        match bucket {
            Bucket::Day => d.format("%Y-%m-%d").to_string(),
            Bucket::Week => format!("{}-W{:02}", d.iso_week().year(), d.iso_week().week()),
            Bucket::Month => d.format("%Y-%m").to_string(),
        }
    };
    let mut series: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut day = q.from;
    while day <= q.to {
        series.entry(label(bounds(tz, day, day).0)).or_default();
        day += chrono::Duration::days(1);
    }
    for t in facts {
        series.entry(label(t.1)).or_default().0 += 1;
        if let Some(closed) = t.6 {
            series.entry(label(closed)).or_default().1 += 1;
        }
    }
    Indicators {
        from: q.from,
        to: q.to,
        time_zone: tz.name().to_string(),
        volume: Volume {
            total: facts.len() as i64,
            by_channel,
            by_kind,
        },
        rates,
        overdue_now,
        unreachable: count(&|t| t.8 == Some(CallbackResult::Unreachable)),
        series: series
            .into_iter()
            .map(|(bucket, (created, closed))| SeriesPoint {
                bucket,
                created,
                closed,
            })
            .collect(),
    }
}

/// The indicators as one XLSX workbook, a sheet per table: 总量 (volumes), 指标 (each rate with its
/// numerator and denominator), 超期 (steps overdue now), 趋势 (the series).
pub fn workbook(ind: &Indicators) -> Result<Vec<u8>, AppError> {
    use rust_xlsxwriter::Workbook;
    let err = |e: rust_xlsxwriter::XlsxError| AppError::Internal(format!("workbook: {e}"));
    let mut book = Workbook::new();
    let volume = book.add_worksheet().set_name("总量").map_err(err)?;
    volume
        .write_row(0, 0, ["分组", "值", "件数"])
        .map_err(err)?;
    volume.write_row(1, 0, ["合计", "", ""]).map_err(err)?;
    volume
        .write_number(1, 2, ind.volume.total as f64)
        .map_err(err)?;
    let mut r = 2;
    for (group, map) in [
        ("渠道", &ind.volume.by_channel),
        ("类型", &ind.volume.by_kind),
    ] {
        for (k, n) in map {
            volume.write_row(r, 0, [group, k.as_str()]).map_err(err)?;
            volume.write_number(r, 2, *n as f64).map_err(err)?;
            r += 1;
        }
    }
    let rates = book.add_worksheet().set_name("指标").map_err(err)?;
    rates
        .write_row(0, 0, ["指标", "分子", "分母", "比率"])
        .map_err(err)?;
    let rows = [
        ("签收及时率 sign_on_time", ind.rates.sign_on_time),
        (
            "按时办结率 on_time_completion",
            ind.rates.on_time_completion,
        ),
        ("解决率 resolution", ind.rates.resolution),
        ("满意率 satisfaction", ind.rates.satisfaction),
        ("退单率 returns", ind.rates.returns),
        ("重办率 redo", ind.rates.redo),
        ("延期率 extension", ind.rates.extension),
        ("重开率 reopen", ind.rates.reopen),
        ("直接答复率 direct_answer", ind.rates.direct_answer),
    ];
    for (i, (name, rate)) in rows.iter().enumerate() {
        let row = u32::try_from(i + 1).unwrap_or(u32::MAX);
        rates.write_string(row, 0, *name).map_err(err)?;
        rates
            .write_number(row, 1, rate.numerator as f64)
            .map_err(err)?;
        rates
            .write_number(row, 2, rate.denominator as f64)
            .map_err(err)?;
        if let Some(v) = rate.value {
            rates.write_number(row, 3, v).map_err(err)?;
        }
    }
    let overdue = book.add_worksheet().set_name("超期").map_err(err)?;
    overdue.write_row(0, 0, ["环节", "件数"]).map_err(err)?;
    for (i, (step, n)) in ind.overdue_now.iter().enumerate() {
        let row = u32::try_from(i + 1).unwrap_or(u32::MAX);
        overdue.write_string(row, 0, step).map_err(err)?;
        overdue.write_number(row, 1, *n as f64).map_err(err)?;
    }
    let series = book.add_worksheet().set_name("趋势").map_err(err)?;
    series
        .write_row(0, 0, ["时段", "受理", "办结"])
        .map_err(err)?;
    for (i, p) in ind.series.iter().enumerate() {
        let row = u32::try_from(i + 1).unwrap_or(u32::MAX);
        series.write_string(row, 0, &p.bucket).map_err(err)?;
        series.write_number(row, 1, p.created as f64).map_err(err)?;
        series.write_number(row, 2, p.closed as f64).map_err(err)?;
    }
    book.save_to_buffer().map_err(err)
}
