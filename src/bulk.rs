//! Bulk import and export of departments, regions, categories and routing rules, as CSV or
//! JSON. Rows refer to each other by code (`parent_code`, `lead_department_code`, ...), so a
//! county's files can be written by hand or exported from another system.
//!
//! An import is all-or-nothing: every row is applied inside one transaction (each in its own
//! savepoint, so one bad row does not hide the next); if any row fails, everything is rolled
//! back and the answer lists each failing row by number. Existing codes are updated, new ones
//! created; rules are matched by name.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalogue::{self, Attribute, CategoryChanges, NewCategory, TimeLimits};
use crate::db::schema::{categories, departments, regions as regions_table, routing_rules};
use crate::db::DbConnection;
use crate::error::{AppError, RowError};
use crate::ids::{CategoryId, DepartmentId, RegionId, RuleId, UserId};
use crate::org::{self, DepartmentChanges, NewDepartment};
use crate::regions::{self, NewRegion, RegionChanges};
use crate::routing::{self, NewRule, RuleChanges};
use crate::serde_util::from_json_text;
use crate::vocab::{DepartmentLevel, Kind, RegionLevel};

/// Rows accepted in one import.
pub const MAX_ROWS: usize = 200_000;
/// Rows reported when an import fails.
const MAX_REPORTED: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dataset {
    Departments,
    Regions,
    Categories,
    Rules,
}

impl FromStr for Dataset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "departments" => Ok(Dataset::Departments),
            "regions" => Ok(Dataset::Regions),
            "categories" => Ok(Dataset::Categories),
            "rules" | "routing-rules" => Ok(Dataset::Rules),
            other => Err(format!(
                "'{other}' is not one of departments, regions, categories, rules"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Json,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            other => Err(format!("'{other}' is not csv or json")),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    pub dataset: Dataset,
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
}

// ---- record shapes (one per dataset, shared by CSV and JSON; lists are `a;b` in CSV) --------

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentRecord {
    pub code: String,
    pub name: String,
    pub level: String,
    #[serde(default)]
    pub parent_code: Option<String>,
    /// `;`-separated
    #[serde(default)]
    pub contact_emails: Option<String>,
    #[serde(default)]
    pub duty_phone: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionRecord {
    pub code: String,
    pub name: String,
    pub level: String,
    #[serde(default)]
    pub parent_code: Option<String>,
    #[serde(default)]
    pub center_lat: Option<f64>,
    #[serde(default)]
    pub center_lng: Option<f64>,
    /// GeoJSON geometry as text.
    #[serde(default)]
    pub polygon: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryRecord {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub parent_code: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `;`-separated
    #[serde(default)]
    pub keywords: Option<String>,
    #[serde(default)]
    pub default_kind: Option<String>,
    #[serde(default)]
    pub default_department_code: Option<String>,
    #[serde(default)]
    pub sign_working_days: Option<u32>,
    #[serde(default)]
    pub handle_working_days: Option<u32>,
    #[serde(default)]
    pub callback_working_days: Option<u32>,
    /// JSON array of attribute definitions, as text.
    #[serde(default)]
    pub attributes: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleRecord {
    pub name: String,
    pub priority: i32,
    #[serde(default)]
    pub category_code: Option<String>,
    #[serde(default)]
    pub region_code: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    /// `;`-separated
    #[serde(default)]
    pub keywords: Option<String>,
    pub lead_department_code: String,
    /// `;`-separated
    #[serde(default)]
    pub co_department_codes: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
}

/// `a; b;;c` → `["a", "b", "c"]`.
fn split_list(text: Option<&str>) -> Vec<String> {
    text.unwrap_or("")
        .split(';')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn join_list(items: &[String]) -> Option<String> {
    (!items.is_empty()).then(|| items.join(";"))
}

// ---- parsing --------------------------------------------------------------------------------

/// The file as text: UTF-8 (a byte-order mark is dropped), or GB18030 — what Excel writes for
/// "CSV" on Chinese Windows (GBK is its subset) — else a 422 saying how to save it.
fn decode(bytes: &[u8]) -> Result<String, AppError> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.strip_prefix('\u{feff}').unwrap_or(text).to_string());
    }
    let (text, _, had_errors) = encoding_rs::GB18030.decode(bytes);
    if had_errors {
        return Err(AppError::validation(
            "the file is neither UTF-8 nor GB18030/GBK text; in Excel choose \
             'Save As' → 'CSV UTF-8 (逗号分隔)(*.csv)'",
        ));
    }
    Ok(text.into_owned())
}

/// The columns of a record type: each field, and whether it is required (not optional).
fn columns<T: Serialize + Default>() -> Vec<(String, bool)> {
    match serde_json::to_value(T::default()) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .map(|(name, value)| (name, !value.is_null()))
            .collect(),
        _ => Vec::new(),
    }
}

/// A CSV header must name every required column.
fn check_header<T: Serialize + Default>(header: &csv::StringRecord) -> Result<(), AppError> {
    let present: HashSet<&str> = header.iter().collect();
    let columns = columns::<T>();
    let missing: Vec<&str> = columns
        .iter()
        .filter(|(name, required)| *required && !present.contains(name.as_str()))
        .map(|(name, _)| name.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list = |required: bool| {
        columns
            .iter()
            .filter(|(_, r)| *r == required)
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    Err(AppError::validation(format!(
        "the first line must be the header; missing column(s): {}. Required: {}; optional: {}",
        missing.join(", "),
        list(true),
        list(false)
    )))
}

/// Rows that parsed, and the rows that did not (by number): both are reported together with
/// the errors of applying the parsed ones.
type Parsed<T> = (Vec<(usize, T)>, Vec<RowError>);

/// Parses the whole file. An empty file, a missing header or a file without rows is refused
/// whole (422).
fn parse<T: DeserializeOwned + Serialize + Default>(
    format: Format,
    bytes: &[u8],
) -> Result<Parsed<T>, AppError> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    match format {
        Format::Csv => {
            let text = decode(bytes)?;
            if text.trim().is_empty() {
                return Err(AppError::validation("the file is empty"));
            }
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_reader(text.as_bytes());
            let header = reader
                .headers()
                .map_err(|e| AppError::validation(format!("header: {}", csv_message(&e))))?
                .clone();
            check_header::<T>(&header)?;
            for (i, record) in reader.deserialize::<T>().enumerate() {
                let row = i + 1;
                match record {
                    Ok(r) => rows.push((row, r)),
                    Err(e) => errors.push(RowError {
                        row,
                        message: csv_message(&e),
                    }),
                }
                if rows.len() + errors.len() > MAX_ROWS {
                    return Err(AppError::validation(format!(
                        "the file has more than {MAX_ROWS} rows"
                    )));
                }
            }
        }
        Format::Json => {
            let items: Vec<serde_json::Value> = serde_json::from_slice(bytes).map_err(|e| {
                AppError::bad_request(
                    "malformed_json",
                    format!("the file is not a JSON array: {e}"),
                )
            })?;
            if items.len() > MAX_ROWS {
                return Err(AppError::validation(format!(
                    "the file has more than {MAX_ROWS} rows"
                )));
            }
            for (i, item) in items.into_iter().enumerate() {
                match serde_json::from_value::<T>(item) {
                    Ok(r) => rows.push((i + 1, r)),
                    Err(e) => errors.push(RowError {
                        row: i + 1,
                        message: e.to_string(),
                    }),
                }
            }
        }
    }
    if rows.is_empty() && errors.is_empty() {
        return Err(AppError::validation(
            "the file has no rows (a CSV file needs data lines below its header)",
        ));
    }
    Ok((rows, errors))
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => match err.field() {
            Some(_) => err.to_string(),
            None => err.kind().to_string(),
        },
        _ => e.to_string(),
    }
}

fn failed(mut errors: Vec<RowError>) -> AppError {
    errors.sort_by_key(|e| e.row);
    let total = errors.len();
    errors.truncate(MAX_REPORTED);
    let first = errors
        .first()
        .map(|e| format!(" First: row {}: {}", e.row, e.message))
        .unwrap_or_default();
    AppError::Import {
        message: format!("{total} row(s) have errors; nothing was imported.{first}"),
        errors,
    }
}

fn parse_enum<T: FromStr<Err = String>>(field: &str, value: &str) -> Result<T, AppError> {
    value
        .parse()
        .map_err(|e: String| AppError::validation(format!("{field}: {e}")))
}

fn optional_enum<T: FromStr<Err = String>>(
    field: &str,
    value: Option<&str>,
) -> Result<Option<T>, AppError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| parse_enum(field, v))
        .transpose()
}

/// Orders tree rows so that every parent comes before its children; rows whose parent is
/// neither in the file nor in `existing` join the reported errors.
fn parents_first<T>(
    (rows, mut errors): Parsed<T>,
    code: impl Fn(&T) -> &str,
    parent: impl Fn(&T) -> Option<&str>,
    existing: &HashSet<String>,
) -> Parsed<T> {
    let mut seen = HashSet::new();
    for (row, r) in &rows {
        if !seen.insert(code(r).to_string()) {
            errors.push(RowError {
                row: *row,
                message: format!("code '{}' appears more than once", code(r)),
            });
        }
    }
    let mut known: HashSet<String> = existing.clone();
    let mut pending = rows;
    let mut ordered = Vec::with_capacity(pending.len());
    loop {
        let before = pending.len();
        let (ready, rest): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|(_, r)| parent(r).is_none_or(|p| known.contains(p) && p != code(r)));
        for (_, r) in &ready {
            known.insert(code(r).to_string());
        }
        ordered.extend(ready);
        pending = rest;
        if pending.is_empty() || pending.len() == before {
            break;
        }
    }
    for (row, r) in &pending {
        errors.push(RowError {
            row: *row,
            message: format!(
                "parent_code '{}' is neither an existing code nor another row of the file (or the rows form a cycle)",
                parent(r).unwrap_or("")
            ),
        });
    }
    (ordered, errors)
}

// ---- import ---------------------------------------------------------------------------------

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

fn codes(conn: &mut DbConnection, dataset: Dataset) -> Result<HashMap<String, String>, AppError> {
    let pairs: Vec<(String, String)> = match dataset {
        Dataset::Departments => departments::table
            .select((departments::code, departments::id))
            .load(conn)?,
        Dataset::Regions => regions_table::table
            .select((regions_table::code, regions_table::id))
            .load(conn)?,
        Dataset::Categories => categories::table
            .select((categories::code, categories::id))
            .load(conn)?,
        Dataset::Rules => routing_rules::table
            .select((routing_rules::name, routing_rules::id))
            .load(conn)?,
    };
    Ok(pairs.into_iter().collect())
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

// ---- export ---------------------------------------------------------------------------------

/// The dataset as a file that `import` reads back (parents before children).
pub fn export(
    conn: &mut DbConnection,
    dataset: Dataset,
    format: Format,
) -> Result<Vec<u8>, AppError> {
    let invert = |m: HashMap<String, String>| -> HashMap<String, String> {
        m.into_iter().map(|(k, v)| (v, k)).collect()
    };
    match dataset {
        Dataset::Departments => {
            let code_of = invert(codes(conn, Dataset::Departments)?);
            let rows: Vec<org::DepartmentRow> = departments::table
                .order(departments::path.asc())
                .load(conn)?;
            let records = rows.into_iter().map(|r| DepartmentRecord {
                parent_code: r.parent_id.as_ref().and_then(|p| code_of.get(p).cloned()),
                contact_emails: join_list(&from_json_text::<Vec<String>>(&r.contact_emails)),
                code: r.code,
                name: r.name,
                level: r.level,
                duty_phone: r.duty_phone,
                active: Some(r.active),
            });
            write(format, records)
        }
        Dataset::Regions => {
            let code_of = invert(codes(conn, Dataset::Regions)?);
            let rows: Vec<regions::RegionRow> = regions_table::table
                .order(regions_table::path.asc())
                .load(conn)?;
            let records = rows.into_iter().map(|r| RegionRecord {
                parent_code: r.parent_id.as_ref().and_then(|p| code_of.get(p).cloned()),
                code: r.code,
                name: r.name,
                level: r.level,
                center_lat: r.center_lat,
                center_lng: r.center_lng,
                polygon: r.polygon,
            });
            write(format, records)
        }
        Dataset::Categories => {
            let code_of = invert(codes(conn, Dataset::Categories)?);
            let dept_code = invert(codes(conn, Dataset::Departments)?);
            let rows: Vec<catalogue::CategoryRow> =
                categories::table.order(categories::path.asc()).load(conn)?;
            let records = rows.into_iter().map(|r| {
                let limits: TimeLimits = r
                    .time_limits
                    .as_deref()
                    .map(from_json_text)
                    .unwrap_or_default();
                let attributes: Vec<Attribute> = from_json_text(&r.attributes);
                CategoryRecord {
                    parent_code: r.parent_id.as_ref().and_then(|p| code_of.get(p).cloned()),
                    default_department_code: r
                        .default_department_id
                        .as_ref()
                        .and_then(|d| dept_code.get(d).cloned()),
                    keywords: join_list(&from_json_text::<Vec<String>>(&r.keywords)),
                    code: r.code,
                    name: r.name,
                    description: Some(r.description),
                    default_kind: r.default_kind,
                    sign_working_days: limits.sign_working_days,
                    handle_working_days: limits.handle_working_days,
                    callback_working_days: limits.callback_working_days,
                    attributes: (!attributes.is_empty()).then_some(r.attributes),
                    active: Some(r.active),
                }
            });
            write(format, records)
        }
        Dataset::Rules => {
            let dept_code = invert(codes(conn, Dataset::Departments)?);
            let cat_code = invert(codes(conn, Dataset::Categories)?);
            let region_code = invert(codes(conn, Dataset::Regions)?);
            let rows: Vec<routing::RuleRow> = routing_rules::table
                .order((routing_rules::priority.asc(), routing_rules::id.asc()))
                .load(conn)?;
            let records = rows.into_iter().map(|r| RuleRecord {
                category_code: r
                    .category_id
                    .as_ref()
                    .and_then(|c| cat_code.get(c).cloned()),
                region_code: r
                    .region_id
                    .as_ref()
                    .and_then(|c| region_code.get(c).cloned()),
                lead_department_code: dept_code
                    .get(&r.lead_department_id)
                    .cloned()
                    .unwrap_or_default(),
                co_department_codes: join_list(
                    &from_json_text::<Vec<String>>(&r.co_department_ids)
                        .iter()
                        .filter_map(|d| dept_code.get(d).cloned())
                        .collect::<Vec<_>>(),
                ),
                keywords: join_list(&from_json_text::<Vec<String>>(&r.keywords)),
                name: r.name,
                priority: r.priority,
                kind: r.kind,
                active: Some(r.active),
            });
            write(format, records)
        }
    }
}

fn write<T: Serialize>(
    format: Format,
    records: impl Iterator<Item = T>,
) -> Result<Vec<u8>, AppError> {
    match format {
        Format::Json => {
            let all: Vec<T> = records.collect();
            serde_json::to_vec_pretty(&all).map_err(|e| AppError::Internal(format!("export: {e}")))
        }
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            for r in records {
                writer
                    .serialize(r)
                    .map_err(|e| AppError::Internal(format!("export: {e}")))?;
            }
            writer
                .into_inner()
                .map_err(|e| AppError::Internal(format!("export: {e}")))
        }
    }
}
