//! Exporting a dataset in the import format.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;

use crate::catalogue::{self, Attribute, TimeLimits};
use crate::db::schema::{categories, departments, regions as regions_table, routing_rules};
use crate::db::DbConnection;
use crate::error::AppError;
use crate::org::{self};
use crate::regions::{self};
use crate::routing::{self};
use crate::serde_util::from_json_text;

use super::*;

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
