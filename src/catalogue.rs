//! The service catalogue: a tree of request categories ("water supply / outage"), each with
//! keywords, a default kind, a default department, optional time limits, and optional
//! attributes shaped like Open311 service definitions.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::accounts::utc;
use crate::db::schema::categories;
use crate::db::DbConnection;
use crate::error::{AppError, WhenMissing};
use crate::ids::{CategoryId, DepartmentId};
use crate::pagination::{Page, PageRequest};
use crate::serde_util::{double_option, from_json_text, to_json_text};
use crate::vocab::Kind;
use crate::{org, reparent, tree, validate};

/// Datatypes of Open311 attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AttributeType {
    String,
    Number,
    Datetime,
    Text,
    Singlevaluelist,
    Multivaluelist,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeValue {
    pub key: String,
    pub name: String,
}

/// An extra question asked for a category (Open311 `attributes[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    /// Unique within the category.
    pub code: String,
    pub datatype: AttributeType,
    #[serde(default)]
    pub required: bool,
    /// The question shown to the citizen.
    pub description: String,
    pub datatype_description: Option<String>,
    #[serde(default)]
    pub order: i32,
    /// The choices of a single/multi value list.
    #[serde(default)]
    pub values: Vec<AttributeValue>,
    /// `false` for informational attributes that take no answer.
    #[serde(default = "yes")]
    pub variable: bool,
}

fn yes() -> bool {
    true
}

/// Per-category time limits, overriding the kind × urgency defaults (used by the deadlines).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeLimits {
    pub sign_working_days: Option<u32>,
    pub handle_working_days: Option<u32>,
    pub callback_working_days: Option<u32>,
}

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = categories, treat_none_as_null = true)]
pub struct CategoryRow {
    pub id: String,
    pub code: String,
    pub name: String,
    pub description: String,
    pub keywords: String,
    pub default_kind: Option<String>,
    pub default_department_id: Option<String>,
    pub parent_id: Option<String>,
    pub path: String,
    pub time_limits: Option<String>,
    pub attributes: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Category {
    pub id: CategoryId,
    pub code: String,
    pub name: String,
    pub description: String,
    pub keywords: Vec<String>,
    pub default_kind: Option<Kind>,
    pub default_department_id: Option<DepartmentId>,
    pub parent_id: Option<CategoryId>,
    pub time_limits: Option<TimeLimits>,
    pub attributes: Vec<Attribute>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CategoryRow> for Category {
    fn from(r: CategoryRow) -> Self {
        Category {
            id: CategoryId(r.id),
            code: r.code,
            name: r.name,
            description: r.description,
            keywords: from_json_text(&r.keywords),
            default_kind: r.default_kind.and_then(|k| k.parse().ok()),
            default_department_id: r.default_department_id.map(DepartmentId),
            parent_id: r.parent_id.map(CategoryId),
            time_limits: r.time_limits.and_then(|t| serde_json::from_str(&t).ok()),
            attributes: from_json_text(&r.attributes),
            active: r.active,
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCategory {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    pub default_kind: Option<Kind>,
    pub default_department_id: Option<DepartmentId>,
    pub parent_id: Option<CategoryId>,
    pub time_limits: Option<TimeLimits>,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    #[serde(default = "yes")]
    pub active: bool,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub keywords: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub default_kind: Option<Option<Kind>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub default_department_id: Option<Option<DepartmentId>>,
    /// Moves the category (and its subtree); `null` makes it a root.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub parent_id: Option<Option<CategoryId>>,
    #[serde(default, deserialize_with = "double_option")]
    pub time_limits: Option<Option<TimeLimits>>,
    pub attributes: Option<Vec<Attribute>>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CategoryFilter {
    pub parent_id: Option<uuid::Uuid>,
    /// This category and everything below it.
    pub under: Option<uuid::Uuid>,
    pub active: Option<bool>,
    /// Name, code or keywords contain this text.
    pub q: Option<String>,
}

pub fn check_attributes(attributes: &[Attribute]) -> Result<(), AppError> {
    let mut seen = HashSet::new();
    for a in attributes {
        validate::code("attributes.code", &a.code)?;
        if !seen.insert(a.code.as_str()) {
            return Err(AppError::validation(format!(
                "attributes: code '{}' appears twice",
                a.code
            )));
        }
        let is_list = matches!(
            a.datatype,
            AttributeType::Singlevaluelist | AttributeType::Multivaluelist
        );
        if is_list && a.values.is_empty() {
            return Err(AppError::validation(format!(
                "attributes.{}: a list needs values",
                a.code
            )));
        }
        if !is_list && !a.values.is_empty() {
            return Err(AppError::validation(format!(
                "attributes.{}: only lists take values",
                a.code
            )));
        }
    }
    Ok(())
}

fn check_keywords(keywords: &[String]) -> Result<(), AppError> {
    if keywords
        .iter()
        .any(|k| k.trim().is_empty() || k.chars().count() > 50)
    {
        return Err(AppError::validation("keywords: each 1-50 characters"));
    }
    Ok(())
}

pub fn find_row(conn: &mut DbConnection, id: &CategoryId) -> Result<CategoryRow, AppError> {
    categories::table
        .find(id.as_str())
        .first::<CategoryRow>(conn)
        .optional()?
        .ok_or_else(|| AppError::NotFound(format!("no category with id {id}")))
}

pub fn referenced(
    conn: &mut DbConnection,
    field: &str,
    id: &CategoryId,
) -> Result<CategoryRow, AppError> {
    find_row(conn, id)
        .when_missing(|| AppError::validation(format!("{field}: no category with id {id}")))
}

pub fn find_by_code(conn: &mut DbConnection, code: &str) -> Result<Option<CategoryRow>, AppError> {
    Ok(categories::table
        .filter(categories::code.eq(code))
        .first(conn)
        .optional()?)
}

pub fn create(
    conn: &mut DbConnection,
    input: NewCategory,
    now: NaiveDateTime,
) -> Result<Category, AppError> {
    validate::code("code", &input.code)?;
    validate::name("name", &input.name, 200)?;
    check_keywords(&input.keywords)?;
    check_attributes(&input.attributes)?;
    if let Some(d) = &input.default_department_id {
        org::referenced(conn, "default_department_id", d)?;
    }
    let parent_path = match &input.parent_id {
        Some(p) => Some(referenced(conn, "parent_id", p)?.path),
        None => None,
    };
    let id = CategoryId::generate();
    let row = CategoryRow {
        path: tree::child_path(parent_path.as_deref(), id.as_str()),
        id: id.0,
        code: input.code,
        name: input.name.trim().to_string(),
        description: input.description,
        keywords: to_json_text(&input.keywords),
        default_kind: input.default_kind.map(|k| k.as_str().to_string()),
        default_department_id: input.default_department_id.map(|d| d.0),
        parent_id: input.parent_id.map(|p| p.0),
        time_limits: input.time_limits.as_ref().map(to_json_text),
        attributes: to_json_text(&input.attributes),
        active: input.active,
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(categories::table)
        .values(&row)
        .execute(conn)
        .map_err(|e| match AppError::from(e) {
            AppError::Duplicate => AppError::conflict(
                "code_taken",
                format!("category code '{}' is taken", row.code),
            ),
            other => other,
        })?;
    Ok(row.into())
}

pub fn get(conn: &mut DbConnection, id: &CategoryId) -> Result<Category, AppError> {
    find_row(conn, id).map(Category::from)
}

pub fn list(
    conn: &mut DbConnection,
    filter: &CategoryFilter,
    page: &PageRequest,
) -> Result<Page<Category>, AppError> {
    let mut query = categories::table.into_boxed();
    if let Some(after) = page.after_key()? {
        query = query.filter(categories::id.gt(after.to_string()));
    }
    if let Some(parent) = filter.parent_id {
        query = query.filter(categories::parent_id.eq(parent.to_string()));
    }
    if let Some(under) = filter.under {
        let root = find_row(conn, &CategoryId(under.to_string()))?;
        let (lo, hi) = tree::subtree_range(&root.path);
        query = query.filter(categories::path.ge(lo).and(categories::path.lt(hi)));
    }
    if let Some(active) = filter.active {
        query = query.filter(categories::active.eq(active));
    }
    if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
        let pattern = crate::db::contains_pattern(q);
        query = query.filter(
            categories::name
                .like(pattern.clone())
                .or(categories::code.like(pattern.clone()))
                .or(categories::keywords.like(pattern)),
        );
    }
    let rows: Vec<CategoryRow> = query
        .order(categories::id.asc())
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(Page::from_rows(rows, page, |r| vec![r.id.clone()]).map(Category::from))
}

pub fn update(
    conn: &mut DbConnection,
    id: &CategoryId,
    changes: CategoryChanges,
    now: NaiveDateTime,
) -> Result<Category, AppError> {
    crate::db::write_tx(conn, |conn| {
        let mut row = find_row(conn, id)?;
        if let Some(name) = changes.name {
            validate::name("name", &name, 200)?;
            row.name = name.trim().to_string();
        }
        if let Some(description) = changes.description {
            row.description = description;
        }
        if let Some(keywords) = changes.keywords {
            check_keywords(&keywords)?;
            row.keywords = to_json_text(&keywords);
        }
        if let Some(kind) = changes.default_kind {
            row.default_kind = kind.map(|k| k.as_str().to_string());
        }
        if let Some(dept) = changes.default_department_id {
            if let Some(d) = &dept {
                org::referenced(conn, "default_department_id", d)?;
            }
            row.default_department_id = dept.map(|d| d.0);
        }
        if let Some(limits) = changes.time_limits {
            row.time_limits = limits.as_ref().map(to_json_text);
        }
        if let Some(attributes) = changes.attributes {
            check_attributes(&attributes)?;
            row.attributes = to_json_text(&attributes);
        }
        if let Some(active) = changes.active {
            row.active = active;
        }
        if let Some(new_parent) = changes.parent_id {
            reparent!(conn, categories, row, new_parent, referenced, "category");
        }
        row.updated_at = now;
        diesel::update(categories::table.find(&row.id))
            .set(&row)
            .execute(conn)?;
        Ok(row.into())
    })
}
