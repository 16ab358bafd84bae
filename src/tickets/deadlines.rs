//! The deadlines of a ticket's steps, in storage: started when a step starts (with the limit in
//! force then), paused while a return is under review, moved by an approved extension, and
//! completed with how late they were.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::model::{DeadlineView, TicketRow};
use crate::accounts::utc;
use crate::calendar::Calendar;
use crate::catalogue::TimeLimits;
use crate::db::schema::{calendar_years, categories, ticket_deadlines};
use crate::db::{self, DbConnection};
use crate::deadlines::{self as rules, Limit, Policy, Step};
use crate::error::AppError;

/// What computing deadlines needs: the calendar over the shipped year files, and the policy.
#[derive(Debug)]
pub struct DeadlineRules {
    pub calendar: Calendar,
    pub policy: Policy,
    /// The calendar and policy in force (with admins' edits), read at most once per
    /// [`IN_FORCE_TTL`].
    in_force: InForce,
}

/// How long this process trusts the calendar and policy it read: an admin's edit through this
/// process takes effect at once (`forget`), through another instance within this time.
pub const IN_FORCE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, Default)]
struct InForce {
    calendar: Fresh<Calendar>,
    policy: Fresh<Policy>,
}

/// A value read from the database, trusted for [`IN_FORCE_TTL`].
#[derive(Debug)]
struct Fresh<T>(std::sync::Mutex<Option<(std::time::Instant, Arc<T>)>>);

impl<T> Default for Fresh<T> {
    fn default() -> Self {
        Fresh(std::sync::Mutex::new(None))
    }
}

impl<T> Fresh<T> {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<(std::time::Instant, Arc<T>)>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value read less than the TTL ago, else `load`'s (then kept). Loads outside the lock.
    fn get_or_load(&self, load: impl FnOnce() -> Result<T, AppError>) -> Result<Arc<T>, AppError> {
        if let Some((read_at, value)) = self.slot().clone() {
            if read_at.elapsed() < IN_FORCE_TTL {
                return Ok(value);
            }
        }
        let read_at = std::time::Instant::now();
        let value = Arc::new(load()?);
        *self.slot() = Some((read_at, value.clone()));
        Ok(value)
    }

    fn clear(&self) {
        *self.slot() = None;
    }
}

impl DeadlineRules {
    pub fn new(calendar: Calendar, policy: Policy) -> Self {
        DeadlineRules {
            calendar,
            policy,
            in_force: InForce::default(),
        }
    }

    /// The calendar in force: the shipped years with admins' edits over them.
    pub fn calendar_in_force(&self, conn: &mut DbConnection) -> Result<Arc<Calendar>, AppError> {
        self.in_force
            .calendar
            .get_or_load(|| calendar(conn, &self.calendar))
    }

    /// The policy in force: the newest admin edit, else the configuration's.
    pub fn policy_in_force(&self, conn: &mut DbConnection) -> Result<Arc<Policy>, AppError> {
        self.in_force
            .policy
            .get_or_load(|| policy_in_force(conn, &self.policy))
    }

    /// Drops what was read: called after an edit of the calendar or the policy.
    pub fn forget(&self) {
        self.in_force.calendar.clear();
        self.in_force.policy.clear();
    }
}

pub type SharedRules = Arc<DeadlineRules>;

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = ticket_deadlines, treat_none_as_default_value = false)]
pub struct DeadlineRow {
    pub id: String,
    pub ticket_id: String,
    pub step: String,
    pub time_limit: String,
    #[diesel(deserialize_as = crate::db::stamp::Stamp)]
    pub started_at: NaiveDateTime,
    #[diesel(deserialize_as = crate::db::stamp::Stamp)]
    pub due_at: NaiveDateTime,
    #[diesel(deserialize_as = crate::db::stamp::Stamp)]
    pub yellow_at: NaiveDateTime,
    #[diesel(deserialize_as = crate::db::stamp::MaybeStamp)]
    pub paused_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = crate::db::stamp::MaybeStamp)]
    pub completed_at: Option<NaiveDateTime>,
    pub overdue_minutes: Option<i32>,
    #[diesel(deserialize_as = crate::db::stamp::MaybeStamp)]
    pub warned_yellow_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = crate::db::stamp::MaybeStamp)]
    pub warned_red_at: Option<NaiveDateTime>,
}

fn calendar_error(e: crate::calendar::CalendarError) -> AppError {
    AppError::conflict("calendar_missing", e.to_string())
}

/// The calendar in force, read from the database (through `DeadlineRules::calendar_in_force`).
fn calendar(conn: &mut DbConnection, base: &Calendar) -> Result<Calendar, AppError> {
    let rows: Vec<(i32, String, String)> = calendar_years::table
        .select((
            calendar_years::year,
            calendar_years::holidays,
            calendar_years::workdays,
        ))
        .load(conn)?;
    let mut calendar = base.clone();
    for (year, holidays, workdays) in rows {
        let parse = |t: &str| {
            serde_json::from_str(t).map_err(|e| AppError::Internal(format!("calendar {year}: {e}")))
        };
        calendar.set_year(crate::calendar::YearData {
            year,
            holidays: parse(&holidays)?,
            workdays: parse(&workdays)?,
        });
    }
    Ok(calendar)
}

fn category_limits(
    conn: &mut DbConnection,
    row: &TicketRow,
) -> Result<Option<TimeLimits>, AppError> {
    let Some(category) = &row.category_id else {
        return Ok(None);
    };
    let text: Option<Option<String>> = categories::table
        .find(category)
        .select(categories::time_limits)
        .first(conn)
        .optional()?;
    Ok(own_limits(text.flatten().as_deref()))
}

fn at(t: NaiveDateTime) -> DateTime<Utc> {
    utc(t)
}

/// Starts `steps` for the ticket now, each with its limit from the policy in force.
pub fn start(
    conn: &mut DbConnection,
    shared: &DeadlineRules,
    row: &TicketRow,
    steps: &[Step],
    now: NaiveDateTime,
) -> Result<(), AppError> {
    if steps.is_empty() {
        return Ok(());
    }
    let own = category_limits(conn, row)?;
    let planned = plan(conn, shared, row, steps, own.as_ref(), now)?;
    insert(conn, &planned)
}

/// `category_limits` of a category row already loaded.
pub fn own_limits(time_limits: Option<&str>) -> Option<TimeLimits> {
    time_limits.and_then(|t| serde_json::from_str(t).ok())
}

/// The deadlines `steps` would get if they started now (nothing written): `own` is the
/// category's own limits.
pub fn plan(
    conn: &mut DbConnection,
    shared: &DeadlineRules,
    row: &TicketRow,
    steps: &[Step],
    own: Option<&TimeLimits>,
    now: NaiveDateTime,
) -> Result<Vec<DeadlineRow>, AppError> {
    let calendar = shared.calendar_in_force(conn)?;
    let policy = shared.policy_in_force(conn)?;
    steps
        .iter()
        .map(|step| {
            let limit = policy.limit(*step, row.kind, row.urgency, own);
            let due = limit.due(&calendar, at(now)).map_err(calendar_error)?;
            let yellow =
                rules::yellow_at(&calendar, limit, at(now), due).map_err(calendar_error)?;
            Ok(DeadlineRow {
                id: db::new_id(),
                ticket_id: row.id.clone(),
                step: step.as_str().to_string(),
                time_limit: limit.to_string(),
                started_at: now,
                due_at: due.naive_utc(),
                yellow_at: yellow.naive_utc(),
                paused_at: None,
                completed_at: None,
                overdue_minutes: None,
                warned_yellow_at: None,
                warned_red_at: None,
            })
        })
        .collect()
}

/// Writes planned deadlines: one statement on PostgreSQL (`db::write_together`: a round trip
/// saved per step; a dispatch starts three), one insert each on SQLite.
pub fn insert(conn: &mut DbConnection, planned: &[DeadlineRow]) -> Result<(), AppError> {
    db::write_together(conn, inserts(planned))
}

/// Planned deadlines as statements for `db::write_together` (a ticket's other writes may go with
/// them).
pub fn inserts(planned: &[DeadlineRow]) -> Vec<Box<dyn db::Write + '_>> {
    planned
        .iter()
        .map(|row| {
            Box::new(diesel::insert_into(ticket_deadlines::table).values(row)) as Box<dyn db::Write>
        })
        .collect()
}

/// Starts a deadline whose due time is given (a supervision flag's), natural time: yellow when
/// four fifths of the span have passed. Answers its id.
pub fn start_until(
    conn: &mut DbConnection,
    ticket: &str,
    step: &str,
    now: NaiveDateTime,
    due: NaiveDateTime,
) -> Result<String, AppError> {
    let span = (due - now).num_minutes().max(1);
    let id = db::new_id();
    diesel::insert_into(ticket_deadlines::table)
        .values(DeadlineRow {
            id: id.clone(),
            ticket_id: ticket.to_string(),
            step: step.to_string(),
            time_limit: format!("{span}min"),
            started_at: now,
            due_at: due,
            yellow_at: now + chrono::Duration::minutes(span * 4 / 5),
            paused_at: None,
            completed_at: None,
            overdue_minutes: None,
            warned_yellow_at: None,
            warned_red_at: None,
        })
        .execute(conn)?;
    refresh_next_due(conn, ticket)?;
    Ok(id)
}

/// Completes one deadline by id (if still open), keeping how late it was; answers the minutes.
pub fn complete_one(
    conn: &mut DbConnection,
    ticket: &str,
    id: &str,
    now: NaiveDateTime,
) -> Result<Option<i64>, AppError> {
    let Some(row) = ticket_deadlines::table
        .find(id)
        .filter(ticket_deadlines::completed_at.is_null())
        .first::<DeadlineRow>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let late = (now - row.due_at).num_minutes().max(0);
    db::Cached(diesel::update(ticket_deadlines::table.find(id)).set((
        ticket_deadlines::completed_at.eq(Some(now)),
        ticket_deadlines::overdue_minutes.eq(Some(i32::try_from(late).unwrap_or(i32::MAX))),
    )))
    .execute(conn)?;
    refresh_next_due(conn, ticket)?;
    Ok(Some(late))
}

fn open_rows(
    conn: &mut DbConnection,
    ticket: &str,
    steps: &[Step],
) -> Result<Vec<DeadlineRow>, AppError> {
    let names: Vec<&str> = steps.iter().map(|s| s.as_str()).collect();
    Ok(db::Cached(
        ticket_deadlines::table
            .filter(ticket_deadlines::ticket_id.eq(ticket))
            .filter(ticket_deadlines::step.eq_any(names))
            .filter(ticket_deadlines::completed_at.is_null()),
    )
    .load(conn)?)
}

/// Completes the open `steps`, keeping how late each was (clock minutes).
/// Answers the steps completed late, with the minutes, for the completing event to record.
pub fn complete(
    conn: &mut DbConnection,
    ticket: &str,
    steps: &[Step],
    now: NaiveDateTime,
) -> Result<Vec<(String, i64)>, AppError> {
    let mut late_steps = Vec::new();
    for row in open_rows(conn, ticket, steps)? {
        // a paused step (a return under review) stopped counting when it paused
        let ended = row.paused_at.unwrap_or(now);
        let late = (ended - row.due_at).num_minutes().max(0);
        if late > 0 {
            late_steps.push((row.step.clone(), late));
        }
        db::Cached(diesel::update(ticket_deadlines::table.find(&row.id)).set((
            ticket_deadlines::completed_at.eq(Some(now)),
            ticket_deadlines::paused_at.eq(None::<NaiveDateTime>),
            ticket_deadlines::overdue_minutes.eq(Some(i32::try_from(late).unwrap_or(i32::MAX))),
        )))
        .execute(conn)?;
    }
    Ok(late_steps)
}

/// The department's steps stop counting while its return is under review.
pub const DEPARTMENT_STEPS: [Step; 3] = [Step::Sign, Step::ReturnWindow, Step::Handle];

pub fn pause(conn: &mut DbConnection, ticket: &str, now: NaiveDateTime) -> Result<(), AppError> {
    let names: Vec<&str> = DEPARTMENT_STEPS.iter().map(|s| s.as_str()).collect();
    diesel::update(
        ticket_deadlines::table
            .filter(ticket_deadlines::ticket_id.eq(ticket))
            .filter(ticket_deadlines::step.eq_any(names))
            .filter(ticket_deadlines::completed_at.is_null())
            .filter(ticket_deadlines::paused_at.is_null()),
    )
    .set(ticket_deadlines::paused_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}

/// Moves a deadline by the time from `from` to `to`, in the limit's own time.
fn shift(
    calendar: &Calendar,
    row: &DeadlineRow,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Result<(NaiveDateTime, NaiveDateTime), AppError> {
    let limit: Limit = row
        .time_limit
        .parse()
        .map_err(|e| AppError::Internal(format!("stored limit: {e}")))?;
    let (due, yellow) = (at(row.due_at), at(row.yellow_at));
    if limit.is_working_time() {
        let paused = calendar
            .working_minutes_between(at(from), at(to))
            .map_err(calendar_error)?;
        let due = calendar
            .add_working_minutes(due, paused)
            .map_err(calendar_error)?;
        let yellow = calendar
            .add_working_minutes(yellow, paused)
            .map_err(calendar_error)?;
        Ok((due.naive_utc(), yellow.naive_utc()))
    } else {
        let paused = to - from;
        Ok(((due + paused).naive_utc(), (yellow + paused).naive_utc()))
    }
}

/// The return was rejected: the paused steps run again, their deadlines moved by the pause.
pub fn resume(
    conn: &mut DbConnection,
    shared: &DeadlineRules,
    ticket: &str,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let calendar = shared.calendar_in_force(conn)?;
    for row in open_rows(conn, ticket, &DEPARTMENT_STEPS)? {
        let Some(paused_at) = row.paused_at else {
            continue;
        };
        let (due, yellow) = shift(&calendar, &row, paused_at, now)?;
        db::Cached(diesel::update(ticket_deadlines::table.find(&row.id)).set((
            ticket_deadlines::paused_at.eq(None::<NaiveDateTime>),
            ticket_deadlines::due_at.eq(due),
            ticket_deadlines::yellow_at.eq(yellow),
        )))
        .execute(conn)?;
    }
    Ok(())
}

/// The open handling deadline, if any.
pub fn handle_due(
    conn: &mut DbConnection,
    ticket: &str,
) -> Result<Option<NaiveDateTime>, AppError> {
    Ok(open_rows(conn, ticket, &[Step::Handle])?
        .first()
        .map(|r| r.due_at))
}

/// When the return window closed, if it has (an open window past its due instant).
pub fn return_window_closed(
    conn: &mut DbConnection,
    ticket: &str,
    now: NaiveDateTime,
) -> Result<Option<NaiveDateTime>, AppError> {
    Ok(open_rows(conn, ticket, &[Step::ReturnWindow])?
        .into_iter()
        .find(|r| r.paused_at.is_none() && now > r.due_at)
        .map(|r| r.due_at))
}

/// An approved extension: the handling deadline moves by exactly `days` working days.
pub fn extend_handle(
    conn: &mut DbConnection,
    shared: &DeadlineRules,
    ticket: &str,
    days: u32,
) -> Result<(), AppError> {
    let calendar = shared.calendar_in_force(conn)?;
    for row in open_rows(conn, ticket, &[Step::Handle])? {
        let due = calendar
            .add_working_days(at(row.due_at), days)
            .map_err(calendar_error)?;
        let yellow = calendar
            .add_working_days(at(row.yellow_at), days)
            .map_err(calendar_error)?;
        db::Cached(diesel::update(ticket_deadlines::table.find(&row.id)).set((
            ticket_deadlines::due_at.eq(due.naive_utc()),
            ticket_deadlines::yellow_at.eq(yellow.naive_utc()),
            ticket_deadlines::warned_yellow_at.eq(None::<NaiveDateTime>),
        )))
        .execute(conn)?;
    }
    Ok(())
}

/// The deadlines of a page of tickets, by ticket, oldest first (one query).
pub fn for_tickets(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<HashMap<String, Vec<DeadlineRow>>, AppError> {
    let rows: Vec<DeadlineRow> = ticket_deadlines::table
        .filter(ticket_deadlines::ticket_id.eq_any(ids))
        .order(ticket_deadlines::id.asc())
        .load(conn)?;
    let mut map: HashMap<String, Vec<DeadlineRow>> = HashMap::new();
    for row in rows {
        map.entry(row.ticket_id.clone()).or_default().push(row);
    }
    Ok(map)
}

/// A ticket's deadlines from the JSON arrays a view query gathers (`reads::DEADLINES_JSON`):
/// timestamps as PostgreSQL writes them in JSON (`2025-01-01T08:30:00`) or as SQLite stores them
/// (`2025-01-01 08:30:00`).
pub fn rows_from_json(ticket: &str, text: &str) -> Result<Vec<DeadlineRow>, String> {
    type Columns = (
        String,
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<i32>,
        Option<String>,
        Option<String>,
    );
    fn time(t: &str) -> Result<NaiveDateTime, String> {
        crate::db::stamp::parse(t).ok_or_else(|| format!("{t}: not a timestamp"))
    }
    fn maybe(t: Option<String>) -> Result<Option<NaiveDateTime>, String> {
        t.as_deref().map(time).transpose()
    }
    let rows: Vec<Columns> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    rows.into_iter()
        .map(
            |(id, step, limit, started, due, yellow, paused, completed, overdue, wy, wr)| {
                Ok(DeadlineRow {
                    id,
                    ticket_id: ticket.to_string(),
                    step,
                    time_limit: limit,
                    started_at: time(&started)?,
                    due_at: time(&due)?,
                    yellow_at: time(&yellow)?,
                    paused_at: maybe(paused)?,
                    completed_at: maybe(completed)?,
                    overdue_minutes: overdue,
                    warned_yellow_at: maybe(wy)?,
                    warned_red_at: maybe(wr)?,
                })
            },
        )
        .collect()
}

/// A deadline as a ticket shows it at `now`.
pub fn view(calendar: &Calendar, row: &DeadlineRow, now: NaiveDateTime) -> DeadlineView {
    let limit: Option<Limit> = row.time_limit.parse().ok();
    let open = row.completed_at.is_none();
    // a paused step is seen as it stood when it paused
    let seen_at = row.paused_at.unwrap_or(now);
    let state = open.then(|| rules::state(at(seen_at), at(row.yellow_at), at(row.due_at)));
    let remaining = match (open, limit) {
        (true, Some(limit)) => {
            rules::remaining_minutes(calendar, limit, at(seen_at), at(row.due_at)).ok()
        }
        _ => None,
    };
    DeadlineView {
        step: row.step.clone(),
        time_limit: row.time_limit.clone(),
        started_at: at(row.started_at),
        due_at: at(row.due_at),
        state,
        remaining_minutes: remaining,
        paused: row.paused_at.is_some(),
        completed_at: row.completed_at.map(at),
        overdue_minutes: row.overdue_minutes,
    }
}

/// One pass of the warning sweeper at `now`: for each open, running step whose yellow or red
/// moment has come and that has not been warned at that level, records one `warning` event on
/// its ticket. Exactly once across instances: the ticket row is locked first (skipped when another
/// instance holds it), then a guarded update claims the warning; only the claimer appends the
/// event. Reads only the rows that still owe a warning (a partial index). Answers the number of
/// warnings recorded.
pub fn sweep(conn: &mut DbConnection, now: NaiveDateTime, batch: i64) -> Result<usize, AppError> {
    use crate::db::schema::tickets;
    let due: Vec<(String, String)> = ticket_deadlines::table
        .filter(ticket_deadlines::completed_at.is_null())
        .filter(ticket_deadlines::warned_red_at.is_null())
        .filter(ticket_deadlines::yellow_at.le(now))
        .filter(ticket_deadlines::paused_at.is_null())
        .order(ticket_deadlines::yellow_at.asc())
        .limit(batch.max(1))
        .select((ticket_deadlines::id, ticket_deadlines::ticket_id))
        .load(conn)?;
    let mut recorded = 0;
    for (deadline_id, ticket_id) in due {
        recorded += db::write_tx(conn, |conn| {
            if !db::try_lock_ticket(conn, &ticket_id)? {
                return Ok(0);
            }
            let Some(row) = ticket_deadlines::table
                .find(&deadline_id)
                .first::<DeadlineRow>(conn)
                .optional()?
            else {
                return Ok(0);
            };
            if row.completed_at.is_some() || row.paused_at.is_some() {
                return Ok(0);
            }
            let mut levels = Vec::new();
            if row.warned_yellow_at.is_none() && row.yellow_at <= now {
                let claimed = diesel::update(
                    ticket_deadlines::table
                        .find(&row.id)
                        .filter(ticket_deadlines::warned_yellow_at.is_null()),
                )
                .set(ticket_deadlines::warned_yellow_at.eq(Some(now)))
                .execute(conn)?;
                if claimed == 1 {
                    levels.push("yellow");
                }
            }
            if row.warned_red_at.is_none() && row.due_at <= now {
                let claimed = diesel::update(
                    ticket_deadlines::table
                        .find(&row.id)
                        .filter(ticket_deadlines::warned_red_at.is_null()),
                )
                .set(ticket_deadlines::warned_red_at.eq(Some(now)))
                .execute(conn)?;
                if claimed == 1 {
                    levels.push("red");
                }
            }
            let Some(mut ticket) = tickets::table
                .find(&ticket_id)
                .first::<TicketRow>(conn)
                .optional()?
            else {
                return Ok(0);
            };
            for level in &levels {
                ticket.version += 1;
                ticket.updated_at = now;
                diesel::update(tickets::table.find(&ticket.id))
                    .set((
                        tickets::version.eq(ticket.version),
                        tickets::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                let payload = serde_json::json!({
                    "step": row.step, "level": level, "time_limit": row.time_limit,
                    "due_at": at(row.due_at), "department_id": ticket.lead_department_id,
                });
                super::insert_system_event(
                    conn,
                    &ticket,
                    super::Happened {
                        action: "warning",
                        from: Some(ticket.status),
                        payload,
                        public: false,
                    },
                    now,
                )?;
            }
            Ok(levels.len())
        })?;
    }
    Ok(recorded)
}

/// The ticket's running deadlines (neither completed nor paused).
#[diesel::dsl::auto_type(no_type_alias)]
fn running<'a>(ticket: &'a str) -> _ {
    ticket_deadlines::table
        .filter(ticket_deadlines::ticket_id.eq(ticket))
        .filter(ticket_deadlines::completed_at.is_null())
        .filter(ticket_deadlines::paused_at.is_null())
}

/// The ticket's soonest running deadline, as its `next_due_at` should read (a command sets it in
/// its own update of the ticket; `refresh_next_due` for everything else).
pub fn soonest_due(
    conn: &mut DbConnection,
    ticket: &str,
) -> Result<Option<NaiveDateTime>, AppError> {
    Ok(running(ticket)
        .select(diesel::dsl::min(ticket_deadlines::due_at))
        .get_result(conn)?)
}

/// Recomputes the ticket's soonest running deadline (after any change to its deadlines).
pub fn refresh_next_due(conn: &mut DbConnection, ticket: &str) -> Result<(), AppError> {
    use crate::db::schema::tickets;
    // one statement: the earliest running deadline, as a subquery of the update
    let next = running(ticket)
        .select(diesel::dsl::min(ticket_deadlines::due_at))
        .single_value();
    db::Cached(
        diesel::update(tickets::table.find(ticket))
            .set(tickets::next_due_at.eq(next.assume_not_null().nullable())),
    )
    .execute(conn)?;
    Ok(())
}

/// The time-limit policy in force, read from the database (through
/// `DeadlineRules::policy_in_force`).
fn policy_in_force(conn: &mut DbConnection, configured: &Policy) -> Result<Policy, AppError> {
    Ok(policy_version(conn, configured)?.policy)
}

/// A version of the policy, as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PolicyVersion {
    #[schema(value_type = Object)]
    pub policy: Policy,
    /// `config` (the configuration's `[deadlines]`) or `edited`.
    pub source: String,
    pub changed_by: Option<crate::ids::UserId>,
    pub changed_at: Option<DateTime<Utc>>,
}

type PolicyRow = (String, String, Option<String>, NaiveDateTime);

fn version_of(row: PolicyRow) -> Result<PolicyVersion, AppError> {
    let (_, text, by, changed) = row;
    Ok(PolicyVersion {
        policy: serde_json::from_str(&text)
            .map_err(|e| AppError::Internal(format!("stored deadline policy: {e}")))?,
        source: "edited".into(),
        changed_by: by.map(crate::ids::UserId),
        changed_at: Some(at(changed)),
    })
}

pub fn policy_version(
    conn: &mut DbConnection,
    configured: &Policy,
) -> Result<PolicyVersion, AppError> {
    use crate::db::schema::deadline_policies as p;
    let newest: Option<PolicyRow> = p::table.order(p::id.desc()).first(conn).optional()?;
    match newest {
        Some(row) => version_of(row),
        None => Ok(PolicyVersion {
            policy: configured.clone(),
            source: "config".into(),
            changed_by: None,
            changed_at: None,
        }),
    }
}

/// Puts a new version of the policy in force (validated like the configuration's).
pub fn set_policy(
    conn: &mut DbConnection,
    policy: Policy,
    actor: &crate::ids::UserId,
    now: NaiveDateTime,
) -> Result<PolicyVersion, AppError> {
    use crate::db::schema::deadline_policies as p;
    policy
        .validate()
        .map_err(|e| AppError::validation(e.to_string()))?;
    let text = serde_json::to_string(&policy)
        .map_err(|e| AppError::Internal(format!("deadline policy: {e}")))?;
    let id = db::new_id();
    diesel::insert_into(p::table)
        .values((
            p::id.eq(&id),
            p::policy.eq(&text),
            p::changed_by.eq(Some(actor.as_str())),
            p::changed_at.eq(now),
        ))
        .execute(conn)?;
    version_of((id, text, Some(actor.0.clone()), now))
}

/// Every edited version, newest first.
pub fn policy_history(conn: &mut DbConnection) -> Result<Vec<PolicyVersion>, AppError> {
    use crate::db::schema::deadline_policies as p;
    let rows: Vec<PolicyRow> = p::table.order(p::id.desc()).load(conn)?;
    rows.into_iter().map(version_of).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The view query's deadlines, as each backend writes them in JSON.
    #[test]
    fn deadline_rows_read_from_either_backends_json() {
        let pg = r#"[["d1","sign","1wd","2025-01-01T08:30:00","2025-01-02T08:30:00.5","2025-01-02T06:30:00",null,null,null,null,null]]"#;
        let lite = r#"[["d1","sign","1wd","2025-01-01 08:30:00","2025-01-02 08:30:00.5","2025-01-02 06:30:00",null,"2025-01-02 09:00:00",30,null,null]]"#;
        let a = rows_from_json("t", pg).expect("postgres json");
        let b = rows_from_json("t", lite).expect("sqlite json");
        assert_eq!(a[0].due_at, b[0].due_at);
        assert_eq!(a[0].ticket_id, "t");
        assert_eq!(
            a[0].due_at.to_string(),
            "2025-01-02 08:30:00.500",
            "fractions kept"
        );
        assert_eq!(b[0].overdue_minutes, Some(30));
        assert!(b[0].completed_at.is_some() && a[0].completed_at.is_none());
        assert!(rows_from_json("t", "[]").expect("empty").is_empty());
        assert!(rows_from_json("t", r#"[["d1","sign"]]"#).is_err());
    }
}
