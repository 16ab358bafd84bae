//! Importing a dataset: all rows or none, every failing row reported.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::catalogue::{self, Attribute, CategoryChanges, NewCategory, TimeLimits};
use crate::db::DbConnection;
use crate::error::{AppError, RowError};
use crate::ids::{CategoryId, DepartmentId, RegionId, RuleId, UserId};
use crate::org::{self, DepartmentChanges, NewDepartment};
use crate::regions::{self, NewRegion, RegionChanges};
use crate::routing::{self, NewRule, RuleChanges};
use crate::vocab::{DepartmentLevel, Kind, RegionLevel};

use super::*;

/// Imports a file; all rows or none.
pub fn import(
    conn: &mut DbConnection,
    dataset: Dataset,
    format: Format,
    bytes: &[u8],
    actor: Option<&UserId>,
    now: NaiveDateTime,
) -> Result<ImportReport, AppError> {
    let outcome = match dataset {
        Dataset::Departments => import_departments(conn, parse(format, bytes)?, now),
        Dataset::Regions => import_regions(conn, parse(format, bytes)?, now),
        Dataset::Categories => import_categories(conn, parse(format, bytes)?, now),
        Dataset::Rules => import_rules(conn, parse(format, bytes)?, actor, now),
    }?;
    Ok(ImportReport {
        dataset,
        rows: outcome.0 + outcome.1,
        created: outcome.0,
        updated: outcome.1,
    })
}

/// Applies each row in its own savepoint inside one transaction; any failure — of a row that
/// did not parse, or of one that did not apply — rolls back all, and every failing row is
/// reported in the one answer.
fn apply_all<T>(
    conn: &mut DbConnection,
    (rows, parse_errors): Parsed<T>,
    mut apply: impl FnMut(&mut DbConnection, T) -> Result<bool, AppError>,
) -> Result<(usize, usize), AppError> {
    crate::db::write_tx(conn, |conn| {
        let (mut created, mut updated) = (0, 0);
        let mut errors = parse_errors;
        for (row, record) in rows {
            match conn.transaction(|conn| apply(conn, record)) {
                Ok(true) => created += 1,
                Ok(false) => updated += 1,
                Err(e) => errors.push(RowError {
                    row,
                    message: e.to_string(),
                }),
            }
        }
        if errors.is_empty() {
            Ok((created, updated))
        } else {
            Err(failed(errors))
        }
    })
}

/// Looks up a code, remembering the ids of rows created during this import.
fn id_of(map: &HashMap<String, String>, field: &str, code: &str) -> Result<String, AppError> {
    map.get(code)
        .cloned()
        .ok_or_else(|| AppError::validation(format!("{field}: no such code '{code}'")))
}

fn import_departments(
    conn: &mut DbConnection,
    rows: Parsed<DepartmentRecord>,
    now: NaiveDateTime,
) -> Result<(usize, usize), AppError> {
    let mut ids = codes(conn, Dataset::Departments)?;
    let existing: HashSet<String> = ids.keys().cloned().collect();
    let rows = parents_first(
        rows,
        |r| &r.code,
        |r| r.parent_code.as_deref().filter(|p| !p.is_empty()),
        &existing,
    );
    apply_all(conn, rows, |conn, r| {
        let level: DepartmentLevel = parse_enum("level", &r.level)?;
        let parent = match r.parent_code.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => Some(DepartmentId(id_of(&ids, "parent_code", p)?)),
            None => None,
        };
        if let Some(id) = ids.get(&r.code).cloned() {
            let current = org::find_row(conn, &DepartmentId(id.clone()))?;
            let changes = DepartmentChanges {
                name: Some(r.name),
                level: Some(level),
                parent_id: (current.parent_id != parent.as_ref().map(|p| p.0.clone()))
                    .then_some(parent),
                contact_emails: Some(split_list(r.contact_emails.as_deref())),
                duty_phone: Some(r.duty_phone),
                active: r.active,
            };
            org::update(conn, &DepartmentId(id), changes, now)?;
            Ok(false)
        } else {
            let input = NewDepartment {
                code: r.code.clone(),
                name: r.name,
                level,
                parent_id: parent,
                contact_emails: split_list(r.contact_emails.as_deref()),
                duty_phone: r.duty_phone,
                active: r.active.unwrap_or(true),
            };
            let created = org::create(conn, input, now)?;
            ids.insert(r.code, created.id.0);
            Ok(true)
        }
    })
}

fn import_regions(
    conn: &mut DbConnection,
    rows: Parsed<RegionRecord>,
    now: NaiveDateTime,
) -> Result<(usize, usize), AppError> {
    let mut ids = codes(conn, Dataset::Regions)?;
    let existing: HashSet<String> = ids.keys().cloned().collect();
    let rows = parents_first(
        rows,
        |r| &r.code,
        |r| r.parent_code.as_deref().filter(|p| !p.is_empty()),
        &existing,
    );
    apply_all(conn, rows, |conn, r| {
        let level: RegionLevel = parse_enum("level", &r.level)?;
        let parent = match r.parent_code.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => Some(RegionId(id_of(&ids, "parent_code", p)?)),
            None => None,
        };
        let polygon = match r.polygon.as_deref().filter(|p| !p.is_empty()) {
            Some(text) => Some(
                serde_json::from_str::<serde_json::Value>(text)
                    .map_err(|e| AppError::validation(format!("polygon: not JSON: {e}")))?,
            ),
            None => None,
        };
        if let Some(id) = ids.get(&r.code).cloned() {
            let current = regions::find_row(conn, &RegionId(id.clone()))?;
            let changes = RegionChanges {
                name: Some(r.name),
                level: Some(level),
                parent_id: (current.parent_id != parent.as_ref().map(|p| p.0.clone()))
                    .then_some(parent),
                center_lat: Some(r.center_lat),
                center_lng: Some(r.center_lng),
                polygon: Some(polygon),
            };
            regions::update(conn, &RegionId(id), changes, now)?;
            Ok(false)
        } else {
            let input = NewRegion {
                code: r.code.clone(),
                name: r.name,
                level,
                parent_id: parent,
                center_lat: r.center_lat,
                center_lng: r.center_lng,
                polygon,
            };
            let created = regions::create(conn, input, now)?;
            ids.insert(r.code, created.id.0);
            Ok(true)
        }
    })
}

fn category_limits(r: &CategoryRecord) -> Option<TimeLimits> {
    let limits = TimeLimits {
        sign_working_days: r.sign_working_days,
        handle_working_days: r.handle_working_days,
        callback_working_days: r.callback_working_days,
    };
    (limits != TimeLimits::default()).then_some(limits)
}

fn import_categories(
    conn: &mut DbConnection,
    rows: Parsed<CategoryRecord>,
    now: NaiveDateTime,
) -> Result<(usize, usize), AppError> {
    let mut ids = codes(conn, Dataset::Categories)?;
    let departments = codes(conn, Dataset::Departments)?;
    let existing: HashSet<String> = ids.keys().cloned().collect();
    let rows = parents_first(
        rows,
        |r| &r.code,
        |r| r.parent_code.as_deref().filter(|p| !p.is_empty()),
        &existing,
    );
    apply_all(conn, rows, |conn, r| {
        let parent = match r.parent_code.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => Some(CategoryId(id_of(&ids, "parent_code", p)?)),
            None => None,
        };
        let department = match r
            .default_department_code
            .as_deref()
            .filter(|d| !d.is_empty())
        {
            Some(d) => Some(DepartmentId(id_of(
                &departments,
                "default_department_code",
                d,
            )?)),
            None => None,
        };
        let kind: Option<Kind> = optional_enum("default_kind", r.default_kind.as_deref())?;
        let attributes: Vec<Attribute> = match r.attributes.as_deref().filter(|a| !a.is_empty()) {
            Some(text) => serde_json::from_str(text).map_err(|e| {
                AppError::validation(format!("attributes: not a JSON array of attributes: {e}"))
            })?,
            None => Vec::new(),
        };
        let limits = category_limits(&r);
        if let Some(id) = ids.get(&r.code).cloned() {
            let current = catalogue::find_row(conn, &CategoryId(id.clone()))?;
            let changes = CategoryChanges {
                name: Some(r.name),
                description: Some(r.description.unwrap_or_default()),
                keywords: Some(split_list(r.keywords.as_deref())),
                default_kind: Some(kind),
                default_department_id: Some(department),
                parent_id: (current.parent_id != parent.as_ref().map(|p| p.0.clone()))
                    .then_some(parent),
                time_limits: Some(limits),
                attributes: Some(attributes),
                active: r.active,
            };
            catalogue::update(conn, &CategoryId(id), changes, now)?;
            Ok(false)
        } else {
            let input = NewCategory {
                code: r.code.clone(),
                name: r.name,
                description: r.description.unwrap_or_default(),
                keywords: split_list(r.keywords.as_deref()),
                default_kind: kind,
                default_department_id: department,
                parent_id: parent,
                time_limits: limits,
                attributes,
                active: r.active.unwrap_or(true),
            };
            let created = catalogue::create(conn, input, now)?;
            ids.insert(r.code, created.id.0);
            Ok(true)
        }
    })
}

fn import_rules(
    conn: &mut DbConnection,
    rows: Parsed<RuleRecord>,
    actor: Option<&UserId>,
    now: NaiveDateTime,
) -> Result<(usize, usize), AppError> {
    let mut ids = codes(conn, Dataset::Rules)?;
    let departments = codes(conn, Dataset::Departments)?;
    let categories = codes(conn, Dataset::Categories)?;
    let regions = codes(conn, Dataset::Regions)?;
    apply_all(conn, rows, |conn, r| {
        let category = match r.category_code.as_deref().filter(|c| !c.is_empty()) {
            Some(c) => Some(CategoryId(id_of(&categories, "category_code", c)?)),
            None => None,
        };
        let region = match r.region_code.as_deref().filter(|c| !c.is_empty()) {
            Some(c) => Some(RegionId(id_of(&regions, "region_code", c)?)),
            None => None,
        };
        let kind: Option<Kind> = optional_enum("kind", r.kind.as_deref())?;
        let lead = DepartmentId(id_of(
            &departments,
            "lead_department_code",
            &r.lead_department_code,
        )?);
        let co = split_list(r.co_department_codes.as_deref())
            .iter()
            .map(|c| id_of(&departments, "co_department_codes", c).map(DepartmentId))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(id) = ids.get(&r.name).cloned() {
            let changes = RuleChanges {
                name: None,
                priority: Some(r.priority),
                category_id: Some(category),
                region_id: Some(region),
                kind: Some(kind),
                keywords: Some(split_list(r.keywords.as_deref())),
                lead_department_id: Some(lead),
                co_department_ids: Some(co),
                active: r.active,
            };
            routing::update(conn, &RuleId(id), changes, actor, now)?;
            Ok(false)
        } else {
            let input = NewRule {
                name: r.name.clone(),
                priority: r.priority,
                category_id: category,
                region_id: region,
                kind,
                keywords: split_list(r.keywords.as_deref()),
                lead_department_id: lead,
                co_department_ids: co,
                active: r.active.unwrap_or(true),
            };
            let created = routing::create(conn, input, actor, now)?;
            ids.insert(r.name, created.id.0);
            Ok(true)
        }
    })
}
