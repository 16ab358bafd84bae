//! Routing rules: managed by admins, validated against the catalogue, regions and departments,
//! every change recorded with who made it and the rule before and after.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::engine::RuleSpec;
use crate::accounts::utc;
use crate::db::schema::{routing_rule_changes, routing_rules};
use crate::db::DbConnection;
use crate::error::AppError;
use crate::ids::{CategoryId, DepartmentId, RegionId, RuleId, UserId};
use crate::pagination::{Page, PageRequest};
use crate::serde_util::{double_option, from_json_text, to_json_text};
use crate::vocab::Kind;
use crate::{catalogue, org, regions, validate};

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = routing_rules, treat_none_as_null = true)]
pub struct RuleRow {
    pub id: String,
    pub name: String,
    pub priority: i32,
    pub category_id: Option<String>,
    pub region_id: Option<String>,
    pub kind: Option<String>,
    pub keywords: String,
    pub lead_department_id: String,
    pub co_department_ids: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Rule {
    pub id: RuleId,
    pub name: String,
    /// Lower numbers win.
    pub priority: i32,
    /// Matches this category and its descendants.
    pub category_id: Option<CategoryId>,
    /// Matches this region and its descendants.
    pub region_id: Option<RegionId>,
    pub kind: Option<Kind>,
    /// Matches when the text contains any of them.
    pub keywords: Vec<String>,
    pub lead_department_id: DepartmentId,
    pub co_department_ids: Vec<DepartmentId>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<RuleRow> for Rule {
    fn from(r: RuleRow) -> Self {
        Rule {
            id: RuleId(r.id),
            name: r.name,
            priority: r.priority,
            category_id: r.category_id.map(CategoryId),
            region_id: r.region_id.map(RegionId),
            kind: r.kind.and_then(|k| k.parse().ok()),
            keywords: from_json_text(&r.keywords),
            lead_department_id: DepartmentId(r.lead_department_id),
            co_department_ids: from_json_text::<Vec<String>>(&r.co_department_ids)
                .into_iter()
                .map(DepartmentId)
                .collect(),
            active: r.active,
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
        }
    }
}

impl From<&RuleRow> for RuleSpec {
    fn from(r: &RuleRow) -> Self {
        RuleSpec {
            id: r.id.clone(),
            name: r.name.clone(),
            priority: r.priority,
            category_id: r.category_id.clone(),
            region_id: r.region_id.clone(),
            kind: r.kind.as_deref().and_then(|k| k.parse().ok()),
            keywords: from_json_text(&r.keywords),
            lead_department_id: r.lead_department_id.clone(),
            co_department_ids: from_json_text(&r.co_department_ids),
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRule {
    pub name: String,
    pub priority: i32,
    pub category_id: Option<CategoryId>,
    pub region_id: Option<RegionId>,
    pub kind: Option<Kind>,
    #[serde(default)]
    pub keywords: Vec<String>,
    pub lead_department_id: DepartmentId,
    #[serde(default)]
    pub co_department_ids: Vec<DepartmentId>,
    #[serde(default = "yes")]
    pub active: bool,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleChanges {
    pub name: Option<String>,
    pub priority: Option<i32>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub category_id: Option<Option<CategoryId>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub region_id: Option<Option<RegionId>>,
    #[serde(default, deserialize_with = "double_option")]
    pub kind: Option<Option<Kind>>,
    pub keywords: Option<Vec<String>>,
    pub lead_department_id: Option<DepartmentId>,
    pub co_department_ids: Option<Vec<DepartmentId>>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RuleFilter {
    pub category_id: Option<uuid::Uuid>,
    pub region_id: Option<uuid::Uuid>,
    /// Rules whose lead or co-handler is this department.
    pub department_id: Option<uuid::Uuid>,
    pub active: Option<bool>,
}

/// One recorded change of a rule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleChange {
    pub id: String,
    pub rule_id: RuleId,
    /// `create`, `update` or `delete`.
    pub action: String,
    pub actor_id: Option<UserId>,
    pub changed_at: DateTime<Utc>,
    pub before: Option<Rule>,
    pub after: Option<Rule>,
}

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = routing_rule_changes)]
struct ChangeRow {
    id: String,
    rule_id: String,
    action: String,
    actor_id: Option<String>,
    changed_at: NaiveDateTime,
    before_json: Option<String>,
    after_json: Option<String>,
}

impl From<ChangeRow> for RuleChange {
    fn from(r: ChangeRow) -> Self {
        RuleChange {
            id: r.id,
            rule_id: RuleId(r.rule_id),
            action: r.action,
            actor_id: r.actor_id.map(UserId),
            changed_at: utc(r.changed_at),
            before: r.before_json.and_then(|t| serde_json::from_str(&t).ok()),
            after: r.after_json.and_then(|t| serde_json::from_str(&t).ok()),
        }
    }
}

fn record(
    conn: &mut DbConnection,
    rule_id: &str,
    action: &str,
    actor: Option<&UserId>,
    before: Option<&Rule>,
    after: Option<&Rule>,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    diesel::insert_into(routing_rule_changes::table)
        .values(ChangeRow {
            id: crate::db::new_id(),
            rule_id: rule_id.to_string(),
            action: action.to_string(),
            actor_id: actor.map(|a| a.0.clone()),
            changed_at: now,
            before_json: before.map(to_json_text),
            after_json: after.map(to_json_text),
        })
        .execute(conn)?;
    Ok(())
}

/// Checks a rule's fields and references (all must exist).
fn check_rule(conn: &mut DbConnection, row: &RuleRow) -> Result<(), AppError> {
    validate::name("name", &row.name, 200)?;
    let keywords: Vec<String> = from_json_text(&row.keywords);
    if keywords
        .iter()
        .any(|k| k.trim().is_empty() || k.chars().count() > 50)
    {
        return Err(AppError::validation("keywords: each 1-50 characters"));
    }
    if let Some(c) = &row.category_id {
        catalogue::referenced(conn, "category_id", &CategoryId(c.clone()))?;
    }
    if let Some(r) = &row.region_id {
        regions::referenced(conn, "region_id", &RegionId(r.clone()))?;
    }
    org::referenced(
        conn,
        "lead_department_id",
        &DepartmentId(row.lead_department_id.clone()),
    )?;
    let co: Vec<String> = from_json_text(&row.co_department_ids);
    for d in &co {
        if *d == row.lead_department_id {
            return Err(AppError::validation(
                "co_department_ids: the lead department cannot also co-handle",
            ));
        }
        org::referenced(conn, "co_department_ids", &DepartmentId(d.clone()))?;
    }
    Ok(())
}

fn find_row(conn: &mut DbConnection, id: &RuleId) -> Result<RuleRow, AppError> {
    routing_rules::table
        .find(id.as_str())
        .first::<RuleRow>(conn)
        .optional()?
        .ok_or_else(|| AppError::NotFound(format!("no routing rule with id {id}")))
}

pub fn create(
    conn: &mut DbConnection,
    input: NewRule,
    actor: Option<&UserId>,
    now: NaiveDateTime,
) -> Result<Rule, AppError> {
    let row = RuleRow {
        id: RuleId::generate().0,
        name: input.name.trim().to_string(),
        priority: input.priority,
        category_id: input.category_id.map(|c| c.0),
        region_id: input.region_id.map(|r| r.0),
        kind: input.kind.map(|k| k.as_str().to_string()),
        keywords: to_json_text(&input.keywords),
        lead_department_id: input.lead_department_id.0,
        co_department_ids: to_json_text(&input.co_department_ids),
        active: input.active,
        created_at: now,
        updated_at: now,
    };
    crate::db::write_tx(conn, |conn| {
        check_rule(conn, &row)?;
        diesel::insert_into(routing_rules::table)
            .values(&row)
            .execute(conn)?;
        let rule = Rule::from(row.clone());
        record(conn, &row.id, "create", actor, None, Some(&rule), now)?;
        Ok(rule)
    })
}

pub fn get(conn: &mut DbConnection, id: &RuleId) -> Result<Rule, AppError> {
    find_row(conn, id).map(Rule::from)
}

/// Rules in precedence order (priority, then id).
pub fn list(
    conn: &mut DbConnection,
    filter: &RuleFilter,
    page: &PageRequest,
) -> Result<Page<Rule>, AppError> {
    let mut query = routing_rules::table.into_boxed();
    match page.after.as_deref() {
        None => {}
        Some([priority, id]) => {
            let priority: i32 = priority.parse().map_err(|_| {
                AppError::bad_request("invalid_cursor", "cursor: belongs to another list")
            })?;
            query = query.filter(
                routing_rules::priority
                    .gt(priority)
                    .or(routing_rules::priority
                        .eq(priority)
                        .and(routing_rules::id.gt(id.clone()))),
            );
        }
        Some(_) => {
            return Err(AppError::bad_request(
                "invalid_cursor",
                "cursor: belongs to another list",
            ))
        }
    }
    if let Some(c) = filter.category_id {
        query = query.filter(routing_rules::category_id.eq(c.to_string()));
    }
    if let Some(r) = filter.region_id {
        query = query.filter(routing_rules::region_id.eq(r.to_string()));
    }
    if let Some(d) = filter.department_id {
        let d = d.to_string();
        query = query.filter(
            routing_rules::lead_department_id
                .eq(d.clone())
                .or(routing_rules::co_department_ids.like(format!("%\"{d}\"%"))),
        );
    }
    if let Some(active) = filter.active {
        query = query.filter(routing_rules::active.eq(active));
    }
    let rows: Vec<RuleRow> = query
        .order((routing_rules::priority.asc(), routing_rules::id.asc()))
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(Page::from_rows(rows, page, |r| vec![r.priority.to_string(), r.id.clone()]).map(Rule::from))
}

pub fn update(
    conn: &mut DbConnection,
    id: &RuleId,
    changes: RuleChanges,
    actor: Option<&UserId>,
    now: NaiveDateTime,
) -> Result<Rule, AppError> {
    crate::db::write_tx(conn, |conn| {
        let mut row = find_row(conn, id)?;
        let before = Rule::from(row.clone());
        if let Some(name) = changes.name {
            row.name = name.trim().to_string();
        }
        if let Some(p) = changes.priority {
            row.priority = p;
        }
        if let Some(c) = changes.category_id {
            row.category_id = c.map(|c| c.0);
        }
        if let Some(r) = changes.region_id {
            row.region_id = r.map(|r| r.0);
        }
        if let Some(k) = changes.kind {
            row.kind = k.map(|k| k.as_str().to_string());
        }
        if let Some(k) = changes.keywords {
            row.keywords = to_json_text(&k);
        }
        if let Some(d) = changes.lead_department_id {
            row.lead_department_id = d.0;
        }
        if let Some(co) = changes.co_department_ids {
            row.co_department_ids = to_json_text(&co);
        }
        if let Some(a) = changes.active {
            row.active = a;
        }
        row.updated_at = now;
        check_rule(conn, &row)?;
        diesel::update(routing_rules::table.find(&row.id))
            .set(&row)
            .execute(conn)?;
        let after = Rule::from(row.clone());
        record(
            conn,
            &row.id,
            "update",
            actor,
            Some(&before),
            Some(&after),
            now,
        )?;
        Ok(after)
    })
}

pub fn delete(
    conn: &mut DbConnection,
    id: &RuleId,
    actor: Option<&UserId>,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    crate::db::write_tx(conn, |conn| {
        let row = find_row(conn, id)?;
        diesel::delete(routing_rules::table.find(&row.id)).execute(conn)?;
        record(
            conn,
            &row.id,
            "delete",
            actor,
            Some(&Rule::from(row.clone())),
            None,
            now,
        )
    })
}

/// The recorded changes of a rule, oldest first (also after the rule was deleted).
pub fn history(
    conn: &mut DbConnection,
    id: &RuleId,
    page: &PageRequest,
) -> Result<Page<RuleChange>, AppError> {
    let mut query = routing_rule_changes::table
        .filter(routing_rule_changes::rule_id.eq(id.as_str()))
        .into_boxed();
    if let Some(after) = page.after_key()? {
        query = query.filter(routing_rule_changes::id.gt(after.to_string()));
    }
    let rows: Vec<ChangeRow> = query
        .order(routing_rule_changes::id.asc())
        .limit(page.fetch_limit())
        .load(conn)?;
    if rows.is_empty() && page.after.is_none() {
        return Err(AppError::NotFound(format!("no routing rule with id {id}")));
    }
    Ok(Page::from_rows(rows, page, |r| vec![r.id.clone()]).map(RuleChange::from))
}
