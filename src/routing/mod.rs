//! Routing rules (managed by admins, every change recorded) and the routing function that
//! ticket dispatch calls: ranked candidate departments, each with the reason.

pub mod engine;
mod rules;

pub use self::rules::{
    create, delete, get, history, list, update, NewRule, Rule, RuleChange, RuleChanges, RuleFilter,
    RuleRow,
};

use std::collections::HashMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use self::engine::{Draft, Matched, RuleSpec};
use crate::db::schema::{categories, departments, routing_rules};
use crate::db::DbConnection;
use crate::error::AppError;
use crate::ids::{CategoryId, DepartmentId, RegionId, RuleId};
use crate::vocab::Kind;
use crate::{catalogue, regions, tree};

// ---------------------------------------------------------------------------------------------
// The routing function

/// A draft request to route.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingRequest {
    pub category_id: Option<CategoryId>,
    /// The region; resolved from `lat`/`lng` when absent.
    pub region_id: Option<RegionId>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub kind: Option<Kind>,
    /// Title and description of the request; keyword rules look here.
    #[serde(default)]
    pub text: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DepartmentRef {
    pub id: DepartmentId,
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CandidateSource {
    /// A routing rule matched.
    Rule,
    /// No rule matched; the category (or its nearest ancestor) names a default department.
    CategoryDefault,
    /// Nothing matched: a dispatcher decides (the manual dispatch queue).
    ManualDispatch,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleRef {
    pub id: RuleId,
    pub name: String,
    pub priority: i32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Candidate {
    /// 1 is the choice.
    pub rank: usize,
    pub source: CandidateSource,
    /// `null` for the manual dispatch queue.
    pub department: Option<DepartmentRef>,
    pub co_handlers: Vec<DepartmentRef>,
    pub rule: Option<RuleRef>,
    pub matched: Option<Matched>,
    /// Why, in words.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoutingResult {
    /// Ranked; the first is the choice. Always ends with the manual dispatch queue.
    pub candidates: Vec<Candidate>,
    /// The region used (given, or resolved from the point).
    pub region_id: Option<RegionId>,
    /// True when the first candidate comes from a rule (automatic dispatch may use it).
    pub exact_rule_match: bool,
}

/// Routes a draft: matching rules by precedence, then the category default, then the manual
/// dispatch queue. Two queries for the candidate rules and the department names; no N+1.
pub fn route(conn: &mut DbConnection, request: &RoutingRequest) -> Result<RoutingResult, AppError> {
    let category = match &request.category_id {
        Some(c) => Some(catalogue::referenced(conn, "category_id", c)?),
        None => None,
    };
    let region_id = match (&request.region_id, request.lat, request.lng) {
        (Some(r), _, _) => Some(RegionId(regions::referenced(conn, "region_id", r)?.id)),
        (None, Some(lat), Some(lng)) => regions::resolve(conn, lat, lng)?.map(|r| RegionId(r.id)),
        (None, None, None) => None,
        _ => return Err(AppError::validation("lat, lng: give both or neither")),
    };
    let region_path = match &region_id {
        Some(r) => Some(regions::find_row(conn, r)?.path),
        None => None,
    };
    let draft = Draft {
        category_ids: category
            .as_ref()
            .map(|c| tree::path_ids(&c.path))
            .unwrap_or_default(),
        region_ids: region_path
            .as_deref()
            .map(tree::path_ids)
            .unwrap_or_default(),
        kind: request.kind,
        text: request.text.clone(),
    };

    let mut query = routing_rules::table
        .filter(routing_rules::active.eq(true))
        .into_boxed();
    query = if draft.category_ids.is_empty() {
        query.filter(routing_rules::category_id.is_null())
    } else {
        query.filter(
            routing_rules::category_id
                .is_null()
                .or(routing_rules::category_id.eq_any(draft.category_ids.clone())),
        )
    };
    query = if draft.region_ids.is_empty() {
        query.filter(routing_rules::region_id.is_null())
    } else {
        query.filter(
            routing_rules::region_id
                .is_null()
                .or(routing_rules::region_id.eq_any(draft.region_ids.clone())),
        )
    };
    query = match draft.kind {
        Some(k) => query.filter(
            routing_rules::kind
                .is_null()
                .or(routing_rules::kind.eq(k.as_str())),
        ),
        None => query.filter(routing_rules::kind.is_null()),
    };
    let rows: Vec<RuleRow> = query.load(conn)?;
    let specs: Vec<RuleSpec> = rows.iter().map(RuleSpec::from).collect();
    let ranked = engine::rank(&draft, &specs);

    // The category default: the nearest category on the path (self first) with a department.
    let default_department = match &category {
        Some(c) => {
            let ids = tree::path_ids(&c.path);
            let defaults: Vec<(String, Option<String>)> = categories::table
                .filter(categories::id.eq_any(ids.clone()))
                .select((categories::id, categories::default_department_id))
                .load(conn)?;
            let by_id: HashMap<String, Option<String>> = defaults.into_iter().collect();
            ids.iter()
                .rev()
                .find_map(|id| by_id.get(id).cloned().flatten())
        }
        None => None,
    };

    let mut wanted: Vec<String> = ranked
        .iter()
        .flat_map(|(r, _)| {
            std::iter::once(r.lead_department_id.clone()).chain(r.co_department_ids.iter().cloned())
        })
        .collect();
    wanted.extend(default_department.clone());
    wanted.sort();
    wanted.dedup();
    let names: HashMap<String, DepartmentRef> = departments::table
        .filter(departments::id.eq_any(wanted))
        .filter(departments::active.eq(true))
        .select((departments::id, departments::code, departments::name))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(id, code, name)| {
            (
                id.clone(),
                DepartmentRef {
                    id: DepartmentId(id),
                    code,
                    name,
                },
            )
        })
        .collect();

    let mut candidates = Vec::new();
    for (rule, matched) in ranked {
        // a rule whose lead department was deactivated cannot take tickets
        let Some(lead) = names.get(&rule.lead_department_id) else {
            continue;
        };
        candidates.push(Candidate {
            rank: 0,
            source: CandidateSource::Rule,
            department: Some(lead.clone()),
            co_handlers: rule
                .co_department_ids
                .iter()
                .filter_map(|d| names.get(d).cloned())
                .collect(),
            rule: Some(RuleRef {
                id: RuleId(rule.id.clone()),
                name: rule.name.clone(),
                priority: rule.priority,
            }),
            reason: describe_rule(rule, &matched),
            matched: Some(matched),
        });
    }
    if let Some(dept) = default_department.as_ref().and_then(|d| names.get(d)) {
        candidates.push(Candidate {
            rank: 0,
            source: CandidateSource::CategoryDefault,
            department: Some(dept.clone()),
            co_handlers: vec![],
            rule: None,
            matched: None,
            reason: format!(
                "the default department of category '{}'",
                category.as_ref().map(|c| c.name.as_str()).unwrap_or("")
            ),
        });
    }
    candidates.push(Candidate {
        rank: 0,
        source: CandidateSource::ManualDispatch,
        department: None,
        co_handlers: vec![],
        rule: None,
        matched: None,
        reason: "the manual dispatch queue: a dispatcher decides".into(),
    });
    for (i, c) in candidates.iter_mut().enumerate() {
        c.rank = i + 1;
    }
    let exact_rule_match = candidates
        .first()
        .is_some_and(|c| c.source == CandidateSource::Rule);
    Ok(RoutingResult {
        candidates,
        region_id,
        exact_rule_match,
    })
}

fn describe_rule(rule: &RuleSpec, m: &Matched) -> String {
    let mut parts = Vec::new();
    if m.category_id.is_some() {
        parts.push(
            if m.category_via_ancestor {
                "category (a parent category)"
            } else {
                "category"
            }
            .to_string(),
        );
    }
    if m.region_id.is_some() {
        parts.push(
            if m.region_via_ancestor {
                "region (an enclosing region)"
            } else {
                "region"
            }
            .to_string(),
        );
    }
    if let Some(k) = m.kind {
        parts.push(format!("kind '{k}'"));
    }
    if let Some(k) = &m.keyword {
        parts.push(format!("keyword '{k}'"));
    }
    let on = if parts.is_empty() {
        "a catch-all rule".to_string()
    } else {
        parts.join(", ")
    };
    format!(
        "rule '{}' (priority {}) matched on {on}",
        rule.name, rule.priority
    )
}
