//! Departments: the organisation tree of units that handle tickets (county government,
//! functional departments, towns/streets, villages/communities, grids, public utilities).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::accounts::utc;
use crate::db::schema::{departments, tickets};
use crate::db::DbConnection;
use crate::error::{AppError, WhenMissing};
use crate::ids::DepartmentId;
use crate::pagination::{Page, PageRequest};
use crate::serde_util::{double_option, from_json_text, to_json_text};
use crate::vocab::{DepartmentLevel, Status};
use crate::{reparent, tree, validate};

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = departments, treat_none_as_null = true)]
pub struct DepartmentRow {
    pub id: String,
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_id: Option<String>,
    pub path: String,
    pub contact_emails: String,
    pub duty_phone: Option<String>,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Department {
    pub id: DepartmentId,
    /// Stable, unique code.
    pub code: String,
    pub name: String,
    pub level: DepartmentLevel,
    pub parent_id: Option<DepartmentId>,
    /// Where deadline warnings and notices go.
    pub contact_emails: Vec<String>,
    /// The on-duty phone number.
    pub duty_phone: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<DepartmentRow> for Department {
    fn from(r: DepartmentRow) -> Self {
        Department {
            id: DepartmentId(r.id),
            code: r.code,
            name: r.name,
            level: r.level.parse().unwrap_or(DepartmentLevel::Department),
            parent_id: r.parent_id.map(DepartmentId),
            contact_emails: from_json_text(&r.contact_emails),
            duty_phone: r.duty_phone,
            active: r.active,
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDepartment {
    pub code: String,
    pub name: String,
    pub level: DepartmentLevel,
    pub parent_id: Option<DepartmentId>,
    #[serde(default)]
    pub contact_emails: Vec<String>,
    pub duty_phone: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentChanges {
    pub name: Option<String>,
    pub level: Option<DepartmentLevel>,
    /// Moves the department (and its subtree); `null` makes it a root.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub parent_id: Option<Option<DepartmentId>>,
    pub contact_emails: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub duty_phone: Option<Option<String>>,
    /// `false` is refused while active sub-departments or open tickets remain.
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DepartmentFilter {
    /// Direct children of this department.
    pub parent_id: Option<uuid::Uuid>,
    /// This department and everything below it.
    pub under: Option<uuid::Uuid>,
    /// Only roots (`true`).
    pub root: Option<bool>,
    pub level: Option<DepartmentLevel>,
    pub active: Option<bool>,
    /// Name or code contains this text.
    pub q: Option<String>,
}

fn check_fields(name: &str, emails: &[String], phone: Option<&str>) -> Result<(), AppError> {
    validate::name("name", name, 200)?;
    for e in emails {
        validate::email("contact_emails", e)?;
    }
    if let Some(p) = phone {
        validate::phone("duty_phone", p)?;
    }
    Ok(())
}

pub fn find_row(conn: &mut DbConnection, id: &DepartmentId) -> Result<DepartmentRow, AppError> {
    departments::table
        .find(id.as_str())
        .first::<DepartmentRow>(conn)
        .optional()?
        .ok_or_else(|| AppError::NotFound(format!("no department with id {id}")))
}

/// A department that a request refers to (as parent, lead, ...): 422 when it does not exist.
pub fn referenced(
    conn: &mut DbConnection,
    field: &str,
    id: &DepartmentId,
) -> Result<DepartmentRow, AppError> {
    find_row(conn, id)
        .when_missing(|| AppError::validation(format!("{field}: no department with id {id}")))
}

pub fn find_by_code(
    conn: &mut DbConnection,
    code: &str,
) -> Result<Option<DepartmentRow>, AppError> {
    Ok(departments::table
        .filter(departments::code.eq(code))
        .first(conn)
        .optional()?)
}

pub fn create(
    conn: &mut DbConnection,
    input: NewDepartment,
    now: NaiveDateTime,
) -> Result<Department, AppError> {
    validate::code("code", &input.code)?;
    check_fields(
        &input.name,
        &input.contact_emails,
        input.duty_phone.as_deref(),
    )?;
    let parent_path = match &input.parent_id {
        Some(p) => Some(referenced(conn, "parent_id", p)?.path),
        None => None,
    };
    let id = DepartmentId::generate();
    let row = DepartmentRow {
        path: tree::child_path(parent_path.as_deref(), id.as_str()),
        id: id.0,
        code: input.code,
        name: input.name.trim().to_string(),
        level: input.level.as_str().to_string(),
        parent_id: input.parent_id.map(|p| p.0),
        contact_emails: to_json_text(&input.contact_emails),
        duty_phone: input.duty_phone,
        active: input.active,
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(departments::table)
        .values(&row)
        .execute(conn)
        .map_err(|e| match AppError::from(e) {
            AppError::Duplicate => AppError::conflict(
                "code_taken",
                format!("department code '{}' is taken", row.code),
            ),
            other => other,
        })?;
    Ok(row.into())
}

pub fn get(conn: &mut DbConnection, id: &DepartmentId) -> Result<Department, AppError> {
    find_row(conn, id).map(Department::from)
}

pub fn list(
    conn: &mut DbConnection,
    filter: &DepartmentFilter,
    page: &PageRequest,
) -> Result<Page<Department>, AppError> {
    let mut query = departments::table.into_boxed();
    if let Some(after) = page.after_key()? {
        query = query.filter(departments::id.gt(after.to_string()));
    }
    if let Some(parent) = filter.parent_id {
        query = query.filter(departments::parent_id.eq(parent.to_string()));
    }
    if let Some(under) = filter.under {
        let root = find_row(conn, &DepartmentId(under.to_string()))?;
        let (lo, hi) = tree::subtree_range(&root.path);
        query = query.filter(departments::path.ge(lo).and(departments::path.lt(hi)));
    }
    if filter.root == Some(true) {
        query = query.filter(departments::parent_id.is_null());
    }
    if let Some(level) = filter.level {
        query = query.filter(departments::level.eq(level.as_str()));
    }
    if let Some(active) = filter.active {
        query = query.filter(departments::active.eq(active));
    }
    if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
        let pattern = crate::db::contains_pattern(q);
        query = query.filter(
            departments::name
                .like(pattern.clone())
                .or(departments::code.like(pattern)),
        );
    }
    let rows: Vec<DepartmentRow> = query
        .order(departments::id.asc())
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(Page::from_rows(rows, page, |r| vec![r.id.clone()]).map(Department::from))
}

/// Applies changes in one transaction; a new parent moves the whole subtree, and a move under
/// the department's own subtree is refused (409 `tree_cycle`).
pub fn update(
    conn: &mut DbConnection,
    id: &DepartmentId,
    changes: DepartmentChanges,
    now: NaiveDateTime,
) -> Result<Department, AppError> {
    crate::db::write_tx(conn, |conn| {
        let mut row = find_row(conn, id)?;
        if let Some(name) = changes.name {
            row.name = name.trim().to_string();
        }
        if let Some(level) = changes.level {
            row.level = level.as_str().to_string();
        }
        if let Some(emails) = changes.contact_emails {
            row.contact_emails = to_json_text(&emails);
        }
        if let Some(phone) = changes.duty_phone {
            row.duty_phone = phone;
        }
        let emails: Vec<String> = from_json_text(&row.contact_emails);
        check_fields(&row.name, &emails, row.duty_phone.as_deref())?;
        if let Some(active) = changes.active {
            if row.active && !active {
                let active_children: i64 = departments::table
                    .filter(departments::parent_id.eq(&row.id))
                    .filter(departments::active.eq(true))
                    .count()
                    .get_result(conn)?;
                if active_children > 0 {
                    return Err(AppError::conflict(
                        "department_in_use",
                        format!("'{}' has {active_children} active sub-departments; deactivate them first", row.name),
                    ));
                }
                let open: Vec<&str> = Status::ALL
                    .iter()
                    .filter(|s| s.is_open())
                    .map(|s| s.as_str())
                    .collect();
                let open_tickets: i64 = tickets::table
                    .filter(tickets::lead_department_id.eq(&row.id))
                    .filter(tickets::status.eq_any(open))
                    .count()
                    .get_result(conn)?;
                if open_tickets > 0 {
                    return Err(AppError::conflict(
                        "department_in_use",
                        format!("'{}' leads {open_tickets} open tickets; re-dispatch or finish them first", row.name),
                    ));
                }
            }
            row.active = active;
        }
        if let Some(new_parent) = changes.parent_id {
            reparent!(conn, departments, row, new_parent, referenced, "department");
        }
        row.updated_at = now;
        diesel::update(departments::table.find(&row.id))
            .set(&row)
            .execute(conn)?;
        Ok(row.into())
    })
}
