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

use diesel::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::{categories, departments, regions as regions_table, routing_rules};
use crate::db::DbConnection;
use crate::error::{AppError, RowError};

mod export;
mod import;

pub use self::export::export;
pub use self::import::import;

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

/// Code → id of every row of a dataset (rules: name → id).
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
