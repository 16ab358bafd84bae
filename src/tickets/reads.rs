//! Reading tickets: the masked views, the explicit and logged reveal of contact data, lists
//! and queues, the event log, merge candidates, and the access log.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::Value;

use super::model::*;
use super::state::{self};
use super::*;
use crate::catalogue::{self};
use crate::db::schema::{access_log, ticket_co_handlers, ticket_events, tickets};
use crate::db::{self, DbConnection};
use crate::error::{AppError, WhenMissing};
use crate::ids::{CategoryId, DepartmentId, RegionId, TicketId};
use crate::pagination::{Page, PageRequest};
use crate::vocab::{Kind, Status};
use crate::{org, regions, tree, validate};

/// The view of a ticket its creator just took in (masked like every view). A ticket intake
/// alone wrote has no co-handlers, lead department or assignee yet and the deadlines intake
/// wrote: its view is built from them without reading anything back.
pub fn intake_view(
    conn: &mut DbConnection,
    viewer: &Viewer,
    taken: super::intake::TakenIn,
) -> Result<Ticket, AppError> {
    let Some(deadlines) = taken.fresh else {
        return view_one(conn, &taken.row, viewer);
    };
    let mut names = Names::default();
    names.deadlines.insert(taken.row.id.clone(), deadlines);
    names.calendar = Some(viewer.rules.calendar_in_force(conn)?);
    Ok(view(&taken.row, &[], viewer, &names))
}

/// The ticket view; contact data masked. One query: the row, with its co-handlers, deadlines
/// and the names it shows gathered by subqueries (the calendar is shared, see
/// `DeadlineRules::calendar_in_force`).
pub fn get(conn: &mut DbConnection, viewer: &Viewer, id: &TicketId) -> Result<Ticket, AppError> {
    let (row, co, mut names) =
        load_for_view(conn, id.as_str())?.ok_or_else(|| not_found(id.as_str()))?;
    if !state::can_see(&viewer.actor, &facts(&row, &co)) {
        return Err(not_found(id.as_str()));
    }
    names.calendar = Some(viewer.rules.calendar_in_force(conn)?);
    Ok(view(&row, &co, viewer, &names))
}

/// `[department_id, department_path, department name]` of each co-handler, as JSON text.
const CO_JSON: [&str; 2] = [
    "(SELECT coalesce(json_agg(json_build_array(c.department_id, c.department_path, d.name)), '[]')::text \
     FROM ticket_co_handlers c JOIN departments d ON d.id = c.department_id WHERE c.ticket_id = tickets.id)",
    "(SELECT json_group_array(json_array(c.department_id, c.department_path, d.name)) \
     FROM ticket_co_handlers c JOIN departments d ON d.id = c.department_id WHERE c.ticket_id = tickets.id)",
];

/// The ticket's deadlines, oldest first, each as an array of `DeadlineRow`'s columns.
const DEADLINES_JSON: [&str; 2] = [
    "(SELECT coalesce(json_agg(json_build_array(k.id, k.step, k.time_limit, k.started_at, k.due_at, \
     k.yellow_at, k.paused_at, k.completed_at, k.overdue_minutes, k.warned_yellow_at, k.warned_red_at) \
     ORDER BY k.id), '[]')::text FROM ticket_deadlines k WHERE k.ticket_id = tickets.id)",
    "(SELECT json_group_array(json(j)) FROM (SELECT json_array(k.id, k.step, k.time_limit, k.started_at, \
     k.due_at, k.yellow_at, k.paused_at, k.completed_at, k.overdue_minutes, k.warned_yellow_at, \
     k.warned_red_at) AS j FROM ticket_deadlines k WHERE k.ticket_id = tickets.id ORDER BY k.id))",
];

type ViewRow = (TicketRow, String, String, Option<String>, Option<String>);

/// A ticket with what its view needs, in one query; `None` when there is no such ticket.
fn load_for_view(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<(TicketRow, Vec<CoHandler>, Names)>, AppError> {
    use crate::db::const_sql;
    use diesel::sql_types::{Nullable, Text};
    let dialect = usize::from(matches!(conn, DbConnection::Sqlite(_)));
    let found: Option<ViewRow> = tickets::table
        .find(id)
        .select((
            tickets::all_columns,
            const_sql::<Text>(CO_JSON[dialect]),
            const_sql::<Text>(DEADLINES_JSON[dialect]),
            const_sql::<Nullable<Text>>(
                "(SELECT d.name FROM departments d WHERE d.id = tickets.lead_department_id)",
            ),
            const_sql::<Nullable<Text>>(
                "(SELECT u.display_name FROM users u WHERE u.id = tickets.assignee_id)",
            ),
        ))
        .first(conn)
        .optional()?;
    let Some((row, co_json, deadlines_json, lead_name, assignee_name)) = found else {
        return Ok(None);
    };
    let bad = |what: &str, e: String| AppError::Internal(format!("ticket {id}: {what}: {e}"));
    let co_rows: Vec<(String, String, String)> =
        serde_json::from_str(&co_json).map_err(|e| bad("co-handlers", e.to_string()))?;
    let mut names = Names::default();
    let co = co_rows
        .into_iter()
        .map(|(department_id, department_path, name)| {
            names.departments.insert(department_id.clone(), name);
            CoHandler {
                department_id,
                department_path,
            }
        })
        .collect();
    if let (Some(lead), Some(name)) = (&row.lead_department_id, lead_name) {
        names.departments.insert(lead.clone(), name);
    }
    if let (Some(user), Some(name)) = (&row.assignee_id, assignee_name) {
        names.users.insert(user.clone(), name);
    }
    let deadlines = super::deadlines::rows_from_json(&row.id, &deadlines_json)
        .map_err(|e| bad("deadlines", e))?;
    names.deadlines.insert(row.id.clone(), deadlines);
    Ok(Some((row, co, names)))
}

/// A `report` seen by a department: the reporter's identity is never shown.
pub(super) fn hides_reporter(row: &TicketRow, viewer: &Viewer) -> bool {
    row.kind == Kind::Report && viewer.is_department_user()
}

/// The full contact data of a ticket, for a viewer whose role grants contact access, with a
/// reason; the answer is written to the access log with the fields it shows.
pub fn reveal(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &TicketId,
    reason: &str,
    now: NaiveDateTime,
) -> Result<RevealedContact, AppError> {
    let reason = reason.trim();
    if reason.is_empty() || validate::text_ok(reason, 200).is_err() {
        return Err(AppError::validation(
            "reason: 1-200 characters: why the contact data is needed",
        ));
    }
    let (row, _) = load_visible(conn, viewer, id)?;
    let Some(user) = viewer.user_id().map(str::to_string) else {
        return Err(AppError::Forbidden("contact data is for staff".into()));
    };
    if !viewer.contact_access {
        return Err(AppError::Forbidden(
            "your roles do not grant access to citizens' contact data".into(),
        ));
    }
    if hides_reporter(&row, viewer) {
        return Err(AppError::Forbidden(
            "the reporter of a report is never revealed to departments".into(),
        ));
    }
    let hotline = !viewer.is_department_user();
    let raw_input = if hotline {
        let created: Option<String> = ticket_events::table
            .filter(ticket_events::ticket_id.eq(&row.id))
            .filter(ticket_events::seq.eq(1))
            .select(ticket_events::payload)
            .first(conn)
            .optional()?;
        created
            .and_then(|p| serde_json::from_str::<Value>(&p).ok())
            .and_then(|mut p| p.get_mut(RAW_INPUT).map(Value::take))
    } else {
        None
    };
    let open_id = row.citizen_open_id.clone().filter(|_| hotline);
    let fields: Vec<String> = [
        ("citizen_name", row.citizen_name.is_some()),
        ("citizen_phone", row.citizen_phone.is_some()),
        ("citizen_address", row.citizen_address.is_some()),
        ("open_id", open_id.is_some()),
        ("caller_number", row.caller_number.is_some()),
        (RAW_INPUT, raw_input.is_some()),
    ]
    .into_iter()
    .filter(|(_, present)| *present)
    .map(|(f, _)| f.to_string())
    .collect();
    if !fields.is_empty() {
        diesel::insert_into(access_log::table)
            .values((
                access_log::id.eq(db::new_id()),
                access_log::user_id.eq(&user),
                access_log::ticket_id.eq(&row.id),
                access_log::fields.eq(fields.join(",")),
                access_log::reason.eq(reason),
                access_log::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(RevealedContact {
        ticket_id: TicketId(row.id.clone()),
        number: row.number.clone(),
        citizen_name: row.citizen_name,
        citizen_phone: row.citizen_phone,
        citizen_address: row.citizen_address,
        open_id,
        caller_number: row.caller_number,
        raw_input,
        fields,
    })
}

/// Display names of the departments and people a set of tickets or events refers to, loaded
/// with one query per table for the whole page (never one per ticket).
#[derive(Debug, Default)]
pub(super) struct Names {
    departments: HashMap<String, String>,
    users: HashMap<String, String>,
    clients: HashMap<String, String>,
    /// The tickets' deadlines, and the calendar in force to tell their state.
    deadlines: HashMap<String, Vec<super::deadlines::DeadlineRow>>,
    calendar: Option<std::sync::Arc<crate::calendar::Calendar>>,
}

impl Names {
    pub(super) fn for_tickets<'a>(
        conn: &mut DbConnection,
        viewer: &Viewer,
        rows: impl IntoIterator<Item = (&'a TicketRow, &'a [CoHandler])>,
    ) -> Result<Names, AppError> {
        let mut departments = Vec::new();
        let mut users = Vec::new();
        let mut ids = Vec::new();
        for (row, co) in rows {
            departments.extend(row.lead_department_id.clone());
            departments.extend(co.iter().map(|c| c.department_id.clone()));
            users.extend(row.assignee_id.clone());
            ids.push(row.id.clone());
        }
        let mut names = Names::load(conn, departments, users, Vec::new())?;
        if !ids.is_empty() {
            names.deadlines = super::deadlines::for_tickets(conn, &ids)?;
            names.calendar = Some(viewer.rules.calendar_in_force(conn)?);
        }
        Ok(names)
    }

    pub(super) fn load(
        conn: &mut DbConnection,
        departments: Vec<String>,
        users: Vec<String>,
        clients: Vec<String>,
    ) -> Result<Names, AppError> {
        use crate::db::schema::{api_clients, departments as depts, users as users_table};
        let mut names = Names::default();
        if !departments.is_empty() {
            names.departments = depts::table
                .filter(depts::id.eq_any(departments))
                .select((depts::id, depts::name))
                .load::<(String, String)>(conn)?
                .into_iter()
                .collect();
        }
        if !users.is_empty() {
            names.users = users_table::table
                .filter(users_table::id.eq_any(users))
                .select((users_table::id, users_table::display_name))
                .load::<(String, String)>(conn)?
                .into_iter()
                .collect();
        }
        if !clients.is_empty() {
            names.clients = api_clients::table
                .filter(api_clients::id.eq_any(clients))
                .select((api_clients::id, api_clients::name))
                .load::<(String, String)>(conn)?
                .into_iter()
                .collect();
        }
        Ok(names)
    }

    fn department(&self, id: &str) -> Option<String> {
        self.departments.get(id).cloned()
    }

    fn user(&self, id: &str) -> Option<String> {
        self.users.get(id).cloned()
    }
}

/// The view of one ticket, with the names it refers to.
pub(super) fn view_one(
    conn: &mut DbConnection,
    row: &TicketRow,
    viewer: &Viewer,
) -> Result<Ticket, AppError> {
    // its co-handlers, names and deadlines as written in this transaction, in one query
    let (_, co, mut names) = load_for_view(conn, &row.id)?.ok_or_else(|| not_found(&row.id))?;
    names.calendar = Some(viewer.rules.calendar_in_force(conn)?);
    Ok(view(row, &co, viewer, &names))
}

pub(super) fn view(row: &TicketRow, co: &[CoHandler], viewer: &Viewer, names: &Names) -> Ticket {
    let f = facts(row, co);
    let hide_reporter = hides_reporter(row, viewer);
    let shown = |value: &Option<String>, mask: fn(&str) -> String| {
        if hide_reporter {
            None
        } else {
            value.as_deref().map(mask)
        }
    };
    let citizen = Citizen {
        name: shown(&row.citizen_name, privacy::mask_name),
        phone: shown(&row.citizen_phone, privacy::mask_phone),
        address: shown(&row.citizen_address, privacy::mask_address),
        open_id: if viewer.is_department_user() {
            None
        } else {
            row.citizen_open_id.as_deref().map(privacy::mask_id)
        },
        anonymous: row.anonymous,
        masked: true,
        reporter_hidden: hide_reporter,
    };
    let caller_number = shown(&row.caller_number, privacy::mask_phone);
    let mut ticket = Ticket::from_row(
        row,
        co,
        citizen,
        caller_number,
        state::allowed_actions(&viewer.actor, &f),
    );
    ticket.lead_department_name = row
        .lead_department_id
        .as_deref()
        .and_then(|d| names.department(d));
    ticket.co_departments = co
        .iter()
        .map(|c| DepartmentRef {
            id: DepartmentId(c.department_id.clone()),
            name: names.department(&c.department_id),
        })
        .collect();
    ticket.assignee_name = row.assignee_id.as_deref().and_then(|u| names.user(u));
    if let (Some(calendar), Some(rows)) = (&names.calendar, names.deadlines.get(&row.id)) {
        ticket.deadlines = rows
            .iter()
            .map(|d| super::deadlines::view(calendar, d, viewer.now))
            .collect();
    }
    ticket
}

const ALL_STEPS: [crate::deadlines::Step; 5] = [
    crate::deadlines::Step::Dispatch,
    crate::deadlines::Step::Sign,
    crate::deadlines::Step::ReturnWindow,
    crate::deadlines::Step::Handle,
    crate::deadlines::Step::Callback,
];

/// Lists tickets the viewer may see, filtered; contact data is always masked in lists.
pub fn list(
    conn: &mut DbConnection,
    viewer: &Viewer,
    filter: &TicketFilter,
    page: &PageRequest,
) -> Result<Page<Ticket>, AppError> {
    let Some(query) = filtered(conn, viewer, filter, page, None, true)? else {
        return Ok(Page {
            items: vec![],
            next_cursor: None,
        });
    };
    let by_due = query.by_due;
    let mut rows: Vec<TicketRow> = query.tickets.limit(page.fetch_limit()).load(conn)?;
    if query.walked_part && (rows.len() as i64) < page.fetch_limit() {
        // the matches are not spread through the table (a burst of one word): the walk over the
        // next `WALK` tickets did not fill the page, so gather them instead
        if let Some(query) = filtered(conn, viewer, filter, page, None, false)? {
            rows = query.tickets.limit(page.fetch_limit()).load(conn)?;
        }
    }
    let views = views(conn, viewer, &rows)?;
    let key = |r: &TicketRow| match (by_due, r.next_due_at) {
        (true, Some(due)) => vec![crate::pagination::time_key(due), r.id.clone()],
        _ => vec![r.id.clone()],
    };
    Ok(Page::from_rows(rows, page, key).map(|row| views.view(&row)))
}

/// The text of the tickets the viewer may see matching `filter`, in the list's order from the
/// page's cursor on, at most `limit`: (id, title, description); `q` is looked for only among
/// the `window` most recently indexed matches on SQLite (see `search::matches`). The ranked
/// search scores these before it builds a view of any ticket.
pub(super) fn texts_within(
    conn: &mut DbConnection,
    viewer: &Viewer,
    filter: &TicketFilter,
    page: &PageRequest,
    window: Option<i64>,
) -> Result<Vec<(String, String, String)>, AppError> {
    let Some(query) = filtered(conn, viewer, filter, page, window, false)? else {
        return Ok(Vec::new());
    };
    Ok(query
        .tickets
        .select((tickets::id, tickets::title, tickets::description))
        .limit(page.limit)
        .load(conn)?)
}

/// The views of the tickets with these ids that the viewer may see, in the order given.
pub(super) fn views_of(
    conn: &mut DbConnection,
    viewer: &Viewer,
    ids: &[&str],
) -> Result<Vec<Ticket>, AppError> {
    let rows: Vec<TicketRow> = tickets::table.filter(tickets::id.eq_any(ids)).load(conn)?;
    let views = views(conn, viewer, &rows)?;
    // read apart from the query that chose them: one may have moved out of sight since
    let mut by_id: std::collections::HashMap<&str, &TicketRow> = rows
        .iter()
        .filter(|r| state::can_see(&viewer.actor, &facts(r, views.co_of(&r.id))))
        .map(|r| (r.id.as_str(), r))
        .collect();
    Ok(ids
        .iter()
        .filter_map(|id| by_id.remove(id))
        .map(|row| views.view(row))
        .collect())
}

/// What the views of a page of tickets need beside their rows, each read once for the page.
struct Views<'v> {
    viewer: &'v Viewer,
    co: std::collections::HashMap<String, Vec<CoHandler>>,
    names: Names,
}

impl Views<'_> {
    fn co_of(&self, id: &str) -> &[CoHandler] {
        self.co.get(id).map_or(&[][..], Vec::as_slice)
    }

    fn view(&self, row: &TicketRow) -> Ticket {
        view(row, self.co_of(&row.id), self.viewer, &self.names)
    }
}

fn views<'v>(
    conn: &mut DbConnection,
    viewer: &'v Viewer,
    rows: &[TicketRow],
) -> Result<Views<'v>, AppError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let co = co_handlers(conn, &ids)?;
    let co_of = |id: &str| co.get(id).map_or(&[][..], Vec::as_slice);
    let names = Names::for_tickets(conn, viewer, rows.iter().map(|r| (r, co_of(&r.id))))?;
    Ok(Views { viewer, co, names })
}

/// "The title or the description contains `q`": through the full-text index; a query with a
/// lone Chinese character scans (docs/api.md "Search"). `department` is the viewer's own
/// department and its path when the viewer is department staff: on PostgreSQL a department
/// that leads a small part of the tickets has its matches gathered by the index's scope (see
/// `search::matches` and `search::is_narrow`).
fn contains_text(
    conn: &mut DbConnection,
    q: &str,
    window: Option<i64>,
    department: Option<(&str, &str)>,
    walk: bool,
) -> Result<(super::search::TicketCondition, bool), AppError> {
    let Some(tokens) = super::search::query_tokens(q) else {
        let pattern = crate::db::contains_pattern(q);
        return Ok((
            Box::new(
                tickets::title
                    .like(pattern.clone())
                    .or(tickets::description.like(pattern)),
            ),
            false,
        ));
    };
    if walk && super::search::is_common(conn, &tokens, department.map(|(own, _)| own))? {
        return Ok((super::search::probe(&tokens), true));
    }
    let scoped = match department {
        Some((own, path)) if super::search::is_narrow(conn, own, path, &tokens)? => Some(own),
        _ => None,
    };
    Ok((super::search::matches(conn, &tokens, window, scoped), false))
}

/// The viewer's own department and its path when the viewer is department staff (not a
/// supervisor): what a text condition is scoped to (see `contains_text`).
pub(super) fn text_department(viewer: &Viewer) -> Option<(&str, &str)> {
    let supervisor = viewer.sees_all_departments();
    match (
        viewer.actor.department_id.as_deref(),
        viewer.actor.department_path.as_deref(),
    ) {
        (Some(own), Some(path)) if !supervisor && viewer.is_department_user() => Some((own, path)),
        _ => None,
    }
}

/// "Led by the department at `path` or below" (`lo`..`hi` its subtree): for a department
/// without sub-departments (`leaf`) an equality, so that the tickets it leads come in id order
/// straight from the index on (lead_department_path, id) — over a range of paths SQLite sorts
/// all of them first.
fn led_by(path: &str, lo: &str, hi: &str, leaf: bool) -> super::search::TicketCondition {
    // a ticket without a lead department is led by none
    let lead = tickets::lead_department_path.assume_not_null();
    if leaf {
        Box::new(lead.eq(path.to_string()))
    } else {
        Box::new(lead.ge(lo.to_string()).and(lead.lt(hi.to_string())))
    }
}

/// A department viewer's own department, for a list that walks its tickets (SQLite).
struct DepartmentWalk {
    path: String,
    lo: String,
    hi: String,
    leaf: bool,
}

impl DepartmentWalk {
    /// "One of the tickets the department leads from the cursor `after` to `bound` (the walk's
    /// last), or one it co-handles", as one set of ids.
    fn tickets(
        &self,
        after: Option<&str>,
        bound: Option<&str>,
        newest_first: bool,
    ) -> super::search::TicketCondition {
        use diesel::sql_types::{Bool, Text};
        // one shape, bounds that always hold standing in for a missing cursor or bound
        let (first, low) = if self.leaf {
            // the index on (lead_department_path, id) then gives the ids in order
            ("= ", self.path.clone())
        } else {
            (">= ", self.lo.clone())
        };
        let (last, highest) = (String::new(), "\u{10FFFF}".to_string());
        let (past, after, before, bound) = if newest_first {
            (
                " < ",
                after.map_or(highest.clone(), str::to_string),
                " >= ",
                bound.map_or(last, str::to_string),
            )
        } else {
            (
                " > ",
                after.map_or(last, str::to_string),
                " <= ",
                bound.map_or(highest, str::to_string),
            )
        };
        Box::new(
            diesel::dsl::sql::<Bool>(
                "tickets.id IN (SELECT led.id FROM tickets led WHERE led.lead_department_path ",
            )
            .sql(first)
            .bind::<Text, _>(low)
            .sql(" AND led.lead_department_path < ")
            .bind::<Text, _>(self.hi.clone())
            .sql(" AND led.id")
            .sql(past)
            .bind::<Text, _>(after)
            .sql(" AND led.id")
            .sql(before)
            .bind::<Text, _>(bound)
            .sql(
                " UNION ALL SELECT c.ticket_id FROM ticket_co_handlers c \
                     WHERE c.department_path >= ",
            )
            .bind::<Text, _>(self.lo.clone())
            .sql(" AND c.department_path < ")
            .bind::<Text, _>(self.hi.clone())
            .sql(")"),
        )
    }
}

/// Whether no department lies below the one at `path` (`hi`: the end of its subtree).
fn is_leaf(conn: &mut DbConnection, path: &str, hi: &str) -> Result<bool, AppError> {
    use crate::db::schema::departments;
    let below: Option<String> = departments::table
        .filter(departments::path.gt(path))
        .filter(departments::path.lt(hi))
        .select(departments::id)
        .first(conn)
        .optional()?;
    Ok(below.is_none())
}

/// "A ticket the department (the subtree from `lo` to `hi`) leads or co-handles", as one set of
/// ticket ids (SQLite, a department's whole list): its led tickets' ids come from the index on
/// (lead_department_path, id) alone, and the list then reads only its page's rows in id order.
/// Asked as "led OR co-handled", SQLite read every row the department led to sort them — 50 ms
/// for the water company's 21,353 of a million tickets, 5 ms this way (docs/benchmarks.md, "The
/// fifth round"). Not for a queue (its own index gives the page) nor with a word (the word's
/// matches are the smaller set to start from).
fn department_tickets(lo: String, hi: String) -> super::search::TicketCondition {
    use diesel::sql_types::{Bool, Text};
    Box::new(
        diesel::dsl::sql::<Bool>(
            "tickets.id IN (SELECT led.id FROM tickets led \
             WHERE led.lead_department_path >= ",
        )
        .bind::<Text, _>(lo.clone())
        .sql(" AND led.lead_department_path < ")
        .bind::<Text, _>(hi.clone())
        .sql(
            " UNION ALL SELECT c.ticket_id FROM ticket_co_handlers c \
             WHERE c.department_path >= ",
        )
        .bind::<Text, _>(lo)
        .sql(" AND c.department_path < ")
        .bind::<Text, _>(hi)
        .sql(")"),
    )
}

/// A list's query, filtered and ordered, not yet limited.
struct Filtered {
    tickets: tickets::BoxedQuery<'static, crate::db::MultiBackend>,
    /// Ordered by the running deadline (the cursor then carries the due time).
    by_due: bool,
    /// The text is probed ticket by ticket over the next `WALK` tickets in the list's order
    /// only (more follow): a page it does not fill must be gathered instead.
    walked_part: bool,
}

/// How many tickets in the list's order a list probes for a common word before it gathers
/// the matches instead (a page of 50 needs a word in one ticket of a hundred there).
const WALK: i64 = 5_000;

/// The query of `list`: visibility, queue and filters, the cursor and the order. `None` when
/// the viewer can see nothing.
fn filtered(
    conn: &mut DbConnection,
    viewer: &Viewer,
    filter: &TicketFilter,
    page: &PageRequest,
    window: Option<i64>,
    walk: bool,
) -> Result<Option<Filtered>, AppError> {
    let mut query = tickets::table.into_boxed();
    let mut probed = false;
    // the tickets a department viewer's own department leads, for a walk (SQLite)
    let mut walker: Option<DepartmentWalk> = None;
    let q = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    // visibility
    let supervisor = viewer.sees_all_departments();
    if !supervisor {
        if viewer.is_department_user() {
            let Some(path) = viewer.actor.department_path.clone() else {
                return Ok(None);
            };
            let own = viewer.actor.department_id.clone().unwrap_or_default();
            let (lo, hi) = tree::subtree_range(&path);
            let whole_list = filter.queue.is_none() && q.is_none();
            let sqlite = conn.backend() == crate::config::Backend::Sqlite;
            if whole_list && sqlite {
                query = query.filter(department_tickets(lo, hi));
            } else {
                // SQLite: a department with a common word walks its own tickets (below)
                if sqlite && q.is_some() {
                    walker = Some(DepartmentWalk {
                        path: path.clone(),
                        lo: lo.clone(),
                        hi: hi.clone(),
                        leaf: false,
                    });
                }
                let co_tickets = ticket_co_handlers::table
                    .filter(ticket_co_handlers::department_path.ge(lo.clone()))
                    .filter(ticket_co_handlers::department_path.lt(hi.clone()))
                    .select(ticket_co_handlers::ticket_id);
                query =
                    query.filter(led_by(&path, &lo, &hi, false).or(tickets::id.eq_any(co_tickets)));
            }
            query = query.filter(
                tickets::confidential
                    .eq(false)
                    .or(tickets::lead_department_id.eq(own)),
            );
        } else {
            query = query.filter(tickets::confidential.eq(false));
        }
    }
    // queues
    match filter.queue {
        None => {}
        Some(Queue::Dispatch) => {
            query = query.filter(tickets::status.eq(Status::Registered.as_str()))
        }
        Some(Queue::ReturnReview) => {
            query = query.filter(tickets::status.eq(Status::ReturnPending.as_str()))
        }
        Some(Queue::Callback) => query = query.filter(tickets::status.eq(Status::Replied.as_str())),
        Some(q @ (Queue::ToSign | Queue::InProgress | Queue::Returned)) => {
            let own = viewer.actor.department_id.clone().ok_or_else(|| {
                AppError::bad_request(
                    "invalid_query",
                    "queue: department queues are for department staff",
                )
            })?;
            let status = match q {
                Queue::ToSign => Status::Dispatched,
                Queue::InProgress => Status::InProgress,
                _ => Status::ReturnPending,
            };
            query = query
                .filter(tickets::lead_department_id.eq(own))
                .filter(tickets::status.eq(status.as_str()));
        }
        Some(Queue::Mine) => {
            let me = viewer.user_id().unwrap_or_default().to_string();
            query = query.filter(tickets::assignee_id.eq(me)).filter(
                tickets::status.eq_any([Status::InProgress.as_str(), Status::Dispatched.as_str()]),
            );
        }
    }
    if let Some(status) = filter.status {
        query = query.filter(tickets::status.eq(status.as_str()));
    }
    if let Some(d) = filter.department_id {
        let path = org::find_row(conn, &DepartmentId(d.to_string()))
            .when_missing(|| {
                AppError::bad_request("invalid_query", "department_id: no such department")
            })?
            .path;
        let (lo, hi) = tree::subtree_range(&path);
        query = query.filter(
            tickets::lead_department_path
                .ge(lo)
                .and(tickets::lead_department_path.lt(hi)),
        );
    }
    if let Some(c) = filter.category_id {
        let path = catalogue::find_row(conn, &CategoryId(c.to_string()))
            .when_missing(|| {
                AppError::bad_request("invalid_query", "category_id: no such category")
            })?
            .path;
        let ids = crate::db::schema::categories::table
            .filter(crate::db::schema::categories::path.ge(tree::subtree_range(&path).0))
            .filter(crate::db::schema::categories::path.lt(tree::subtree_range(&path).1))
            .select(crate::db::schema::categories::id.nullable());
        query = query.filter(tickets::category_id.eq_any(ids));
    }
    if let Some(r) = filter.region_id {
        let path = regions::find_row(conn, &RegionId(r.to_string()))
            .when_missing(|| AppError::bad_request("invalid_query", "region_id: no such region"))?
            .path;
        let ids = crate::db::schema::regions::table
            .filter(crate::db::schema::regions::path.ge(tree::subtree_range(&path).0))
            .filter(crate::db::schema::regions::path.lt(tree::subtree_range(&path).1))
            .select(crate::db::schema::regions::id.nullable());
        query = query.filter(tickets::region_id.eq_any(ids));
    }
    if let Some(k) = filter.kind {
        query = query.filter(tickets::kind.eq(k.as_str()));
    }
    if let Some(u) = filter.urgency {
        query = query.filter(tickets::urgency.eq(u.as_str()));
    }
    if let Some(c) = filter.channel {
        query = query.filter(tickets::channel.eq(c.as_str()));
    }
    if let Some(from) = filter.created_from {
        query = query.filter(tickets::created_at.ge(from.naive_utc()));
    }
    if let Some(to) = filter.created_to {
        query = query.filter(tickets::created_at.lt(to.naive_utc()));
    }
    if let Some(phone) = filter.phone.as_deref().filter(|p| !p.is_empty()) {
        if viewer.is_department_user() {
            return Err(AppError::Forbidden(
                "searching by phone number is for hotline staff".into(),
            ));
        }
        // the stored form: `138 1234 5678` and `+86 138-1234-5678` find `13812345678`
        let phone = crate::phone::parse(phone)
            .map_err(|e| AppError::bad_request("invalid_query", format!("phone: {e}")))?
            .into_string();
        query = query.filter(
            tickets::citizen_phone
                .eq(phone.clone())
                .or(tickets::caller_number.eq(phone)),
        );
    }
    if let Some(number) = filter.number.as_deref().filter(|n| !n.is_empty()) {
        query = query.filter(tickets::number.eq(number.to_string()));
    }
    if let Some(q) = q {
        let department = text_department(viewer);
        // a list narrowed by nothing but the text can walk the tickets in its order probing
        // each for a common word (SQLite, `search::probe`); a department walks the tickets it
        // leads (walking every ticket took 666 ms against 133 ms gathering, the water company
        // at a million tickets; gathering grows with the department's matches: 43 ms for its
        // 80,000 of 停水, docs/benchmarks.md "The sixth round")
        let walk = walk && !filter.narrows_beyond_text() && filter.order != Some(Order::Due);
        let (condition, probe) = contains_text(conn, q, window, department, walk)?;
        probed = probe;
        query = query.filter(condition);
    }
    // queues by time: tickets with a running deadline matching every given condition
    let by_deadline =
        filter.due_before.is_some() || filter.warning.is_some() || filter.step.is_some();
    if by_deadline {
        use crate::db::schema::ticket_deadlines as d;
        let now = viewer.now;
        // one query shape for every combination: absent conditions become bounds that hold
        let far_past = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH.naive_utc();
        let far_future = far_past + chrono::Duration::days(365 * 1000);
        let steps: Vec<&str> = match filter.step {
            Some(step) => vec![step.as_str()],
            None => ALL_STEPS.iter().map(|s| s.as_str()).collect(),
        };
        let mut due_before = filter.due_before.map_or(far_future, |t| t.naive_utc());
        let (mut due_after, mut yellow_by) = (far_past, far_future);
        match filter.warning {
            Some(Warning::Red) => {
                due_before = due_before.min(now + chrono::Duration::microseconds(1))
            }
            Some(Warning::Yellow) => {
                yellow_by = now;
                due_after = now;
            }
            None => {}
        }
        let running = d::table
            .filter(d::completed_at.is_null())
            .filter(d::paused_at.is_null())
            .filter(d::step.eq_any(steps))
            .filter(d::due_at.lt(due_before))
            .filter(d::due_at.gt(due_after))
            .filter(d::yellow_at.le(yellow_by))
            .select(d::ticket_id);
        query = query.filter(tickets::id.eq_any(running));
    }
    let by_due = by_deadline || filter.order == Some(Order::Due);
    let mut walked_part = false;
    let newest_first = filter.order == Some(Order::Newest);
    if by_due {
        query = query.filter(tickets::next_due_at.is_not_null());
        if let Some((due, id)) = page.after_time_and_id()? {
            query = query.filter(
                tickets::next_due_at.gt(due).or(tickets::next_due_at
                    .eq(due)
                    .and(tickets::id.gt(id.to_string()))),
            );
        }
        query = query.order((tickets::next_due_at.asc(), tickets::id.asc()));
    } else {
        let after = page.after_key()?.map(str::to_string);
        if let Some(after) = &after {
            query = if newest_first {
                query.filter(tickets::id.lt(after.clone()))
            } else {
                query.filter(tickets::id.gt(after.clone()))
            };
        }
        if probed {
            // the walk stops at the `WALK`th ticket from the cursor (an exact page when it
            // fills; `list` gathers when it does not)
            let mut next = tickets::table.select(tickets::id).into_boxed();
            if let Some(w) = &mut walker {
                // asked only here: most lists never walk
                w.leaf = is_leaf(conn, &w.path, &w.hi)?;
                next = next.filter(led_by(&w.path, &w.lo, &w.hi, w.leaf));
            }
            next = match (&after, newest_first) {
                (Some(a), true) => next.filter(tickets::id.lt(a.clone())),
                (Some(a), false) => next.filter(tickets::id.gt(a.clone())),
                (None, _) => next,
            };
            next = if newest_first {
                next.order(tickets::id.desc())
            } else {
                next.order(tickets::id.asc())
            };
            let bound: Option<String> = next.offset(WALK - 1).first(conn).optional()?;
            if let Some(w) = &walker {
                // the department's tickets of the walk as one ordered set, so that the page
                // reads them in id order and stops at its last (asked through "led OR
                // co-handled", SQLite probed all 5,000 before sorting them)
                query = query.filter(w.tickets(after.as_deref(), bound.as_deref(), newest_first));
            }
            if let Some(bound) = bound {
                walked_part = true;
                query = if newest_first {
                    query.filter(tickets::id.ge(bound))
                } else {
                    query.filter(tickets::id.le(bound))
                };
            }
        }
        query = if newest_first {
            query.order(tickets::id.desc())
        } else {
            query.order(tickets::id.asc())
        };
    }
    Ok(Some(Filtered {
        tickets: query,
        by_due,
        walked_part,
    }))
}

/// The event log of a ticket, oldest first; internal notes are shown to staff only.
pub fn events(
    conn: &mut DbConnection,
    viewer: &Viewer,
    id: &TicketId,
    page: &PageRequest,
) -> Result<Page<Event>, AppError> {
    load_visible(conn, viewer, id)?;
    let mut query = ticket_events::table
        .filter(ticket_events::ticket_id.eq(id.as_str()))
        .into_boxed();
    if let Some(after) = page.after_key()? {
        let seq: i32 = after.parse().map_err(|_| {
            AppError::bad_request("invalid_cursor", "cursor: belongs to another list")
        })?;
        query = query.filter(ticket_events::seq.gt(seq));
    }
    let rows: Vec<EventRow> = query
        .order(ticket_events::seq.asc())
        .limit(page.fetch_limit())
        .load(conn)?;
    let actors = |kind: &str| -> Vec<String> {
        rows.iter()
            .filter(|e| e.actor_kind == kind)
            .filter_map(|e| e.actor_id.clone())
            .collect()
    };
    let names = Names::load(conn, Vec::new(), actors("user"), actors("api_client"))?;
    Ok(
        Page::from_rows(rows, page, |e| vec![e.seq.to_string()]).map(|e| {
            let name = match (e.actor_kind.as_str(), e.actor_id.as_deref()) {
                ("user", Some(id)) => names.users.get(id).cloned(),
                ("api_client", Some(id)) => names.clients.get(id).cloned(),
                _ => None,
            };
            let mut event = Event::from(e);
            event.actor.name = name;
            event
        }),
    )
}

/// Open tickets of the same category and region, to merge duplicates at intake.
pub fn similar(
    conn: &mut DbConnection,
    viewer: &Viewer,
    category: &CategoryId,
    region: Option<&RegionId>,
    text: Option<&str>,
    page: &PageRequest,
) -> Result<Page<Ticket>, AppError> {
    let open: Vec<&str> = Status::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| s.as_str())
        .collect();
    let mut query = tickets::table
        .filter(tickets::category_id.eq(category.as_str()))
        .filter(tickets::status.eq_any(open))
        .filter(tickets::confidential.eq(false))
        .into_boxed();
    if let Some(r) = region {
        query = query.filter(tickets::region_id.eq(r.as_str()));
    }
    if let Some(q) = text.map(str::trim).filter(|q| !q.is_empty()) {
        query = query.filter(contains_text(conn, q, None, None, false)?.0);
    }
    if let Some(after) = page.after_key()? {
        query = query.filter(tickets::id.lt(after.to_string()));
    }
    let rows: Vec<TicketRow> = query
        .order(tickets::id.desc())
        .limit(page.fetch_limit())
        .load(conn)?;
    let views = views(conn, viewer, &rows)?;
    let mut page = Page::from_rows(rows, page, |r| vec![r.id.clone()]);
    // the cursor follows the query; a ticket the viewer may not see is left out of the items
    let items = std::mem::take(&mut page.items)
        .into_iter()
        .filter(|r| state::can_see(&viewer.actor, &facts(r, views.co_of(&r.id))))
        .collect();
    page.items = items;
    Ok(page.map(|r| views.view(&r)))
}

pub fn access_log(
    conn: &mut DbConnection,
    filter: &AccessLogFilter,
    page: &PageRequest,
) -> Result<Page<AccessLogEntry>, AppError> {
    let mut query = access_log::table.into_boxed();
    if let Some(t) = filter.ticket_id {
        query = query.filter(access_log::ticket_id.eq(t.to_string()));
    }
    if let Some(u) = filter.user_id {
        query = query.filter(access_log::user_id.eq(u.to_string()));
    }
    if let Some(after) = page.after_key()? {
        query = query.filter(access_log::id.lt(after.to_string()));
    }
    let rows: Vec<AccessLogRow> = query
        .order(access_log::id.desc())
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(Page::from_rows(rows, page, |r| vec![r.id.clone()]).map(AccessLogEntry::from))
}

/// Overdue and soon-due counts of one lead department (`department_id` null: tickets not yet
/// dispatched, the hotline's own queue).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OverdueCount {
    pub department_id: Option<DepartmentId>,
    pub department_name: Option<String>,
    /// Tickets with a running step past its deadline.
    pub overdue: usize,
    /// Tickets with a running step in its yellow period (and none overdue).
    pub due_soon: usize,
    /// Overdue running steps by step name.
    #[schema(value_type = Object)]
    pub overdue_by_step: std::collections::BTreeMap<String, usize>,
}

/// Overdue and soon-due tickets by lead department, among the tickets the viewer may see: a
/// department its subtree, supervisors everything.
pub fn overdue_summary(
    conn: &mut DbConnection,
    viewer: &Viewer,
) -> Result<Vec<OverdueCount>, AppError> {
    use crate::db::schema::ticket_deadlines as d;
    let now = viewer.now;
    // ticket, lead department, its path, confidential, step, due
    type Due = (
        String,
        Option<String>,
        Option<String>,
        bool,
        String,
        NaiveDateTime,
    );
    let rows: Vec<Due> = d::table
        .inner_join(tickets::table)
        .filter(d::completed_at.is_null())
        .filter(d::paused_at.is_null())
        .filter(d::yellow_at.le(now))
        .select((
            tickets::id,
            tickets::lead_department_id,
            tickets::lead_department_path,
            tickets::confidential,
            d::step,
            d::due_at,
        ))
        .load(conn)?;
    let supervisor = viewer.sees_all_departments();
    let department_user = viewer.is_department_user();
    let own_path = viewer.actor.department_path.clone();
    let own_id = viewer.actor.department_id.clone();
    let visible = |dept: &Option<String>, path: &Option<String>, confidential: bool| {
        if supervisor {
            return true;
        }
        if department_user {
            let in_subtree = match (&own_path, path) {
                (Some(own), Some(p)) => p.starts_with(own.as_str()),
                _ => false,
            };
            return in_subtree && (!confidential || dept == &own_id);
        }
        !confidential
    };
    #[derive(Default)]
    struct Acc {
        overdue: std::collections::BTreeSet<String>,
        soon: std::collections::BTreeSet<String>,
        by_step: std::collections::BTreeMap<String, usize>,
    }
    let mut by_department: std::collections::BTreeMap<Option<String>, Acc> = Default::default();
    for (ticket, dept, path, confidential, step, due) in rows {
        if !visible(&dept, &path, confidential) {
            continue;
        }
        let acc = by_department.entry(dept).or_default();
        if due <= now {
            acc.overdue.insert(ticket);
            *acc.by_step.entry(step).or_default() += 1;
        } else {
            acc.soon.insert(ticket);
        }
    }
    let ids: Vec<String> = by_department.keys().flatten().cloned().collect();
    let names = Names::load(conn, ids, Vec::new(), Vec::new())?;
    let mut out: Vec<OverdueCount> = by_department
        .into_iter()
        .map(|(dept, acc)| OverdueCount {
            department_name: dept.as_deref().and_then(|d| names.department(d)),
            department_id: dept.map(DepartmentId),
            due_soon: acc.soon.difference(&acc.overdue).count(),
            overdue: acc.overdue.len(),
            overdue_by_step: acc.by_step,
        })
        .collect();
    out.sort_by(|a, b| b.overdue.cmp(&a.overdue).then(b.due_soon.cmp(&a.due_soon)));
    Ok(out)
}
