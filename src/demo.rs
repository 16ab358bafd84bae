//! Demo data: a county modelled on the seed articles (departments, towns, villages, grids with
//! polygons, ~100 categories, routing rules) plus one account per role. Loaded through the same
//! bulk import as real data; running it again updates the data and leaves accounts alone.

use chrono::NaiveDateTime;

use crate::accounts::users::{self, NewUser};
use crate::auth::{password, Role};
use crate::bulk::{self, Dataset, Format, ImportReport};
use crate::db::DbConnection;
use crate::error::AppError;
use crate::ids::DepartmentId;
use crate::org;

const DEPARTMENTS: &str = include_str!("../config/demo/departments.csv");
const REGIONS: &str = include_str!("../config/demo/regions.csv");
const CATEGORIES: &str = include_str!("../config/demo/categories.csv");
const RULES: &str = include_str!("../config/demo/rules.csv");

/// A demo account and, when it was created now, its password.
#[derive(Debug, Clone)]
pub struct DemoUser {
    pub username: String,
    pub roles: Vec<Role>,
    pub department: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DemoSummary {
    pub imports: Vec<ImportReport>,
    pub users: Vec<DemoUser>,
}

const DEMO_USERS: &[(&str, &[Role], Option<&str>)] = &[
    ("supervisor", &[Role::Supervisor], None),
    ("dispatcher", &[Role::Dispatcher], Some("HOTLINE")),
    ("operator", &[Role::Operator], Some("HOTLINE")),
    (
        "water_staff",
        &[Role::DepartmentStaff],
        Some("WATER-SUPPLY"),
    ),
    (
        "water_admin",
        &[Role::DepartmentAdmin],
        Some("WATER-SUPPLY"),
    ),
    (
        "town_staff",
        &[Role::DepartmentStaff],
        Some("TOWN-370783101000"),
    ),
];

pub fn seed(conn: &mut DbConnection, now: NaiveDateTime) -> Result<DemoSummary, AppError> {
    crate::db::write_tx(conn, |conn| {
        let mut imports = Vec::new();
        for (dataset, text) in [
            (Dataset::Departments, DEPARTMENTS),
            (Dataset::Regions, REGIONS),
            (Dataset::Categories, CATEGORIES),
            (Dataset::Rules, RULES),
        ] {
            imports.push(bulk::import(
                conn,
                dataset,
                Format::Csv,
                text.as_bytes(),
                None,
                now,
            )?);
        }
        let mut created = Vec::new();
        for (username, roles, department) in DEMO_USERS {
            let department_id = match department {
                Some(code) => org::find_by_code(conn, code)?.map(|d| DepartmentId(d.id)),
                None => None,
            };
            let exists = users::find_by_username(conn, username)?.is_some();
            let password = if exists {
                None
            } else {
                let password = password::generate();
                users::create(
                    conn,
                    NewUser {
                        username: username.to_string(),
                        display_name: None,
                        email: None,
                        password: password.clone(),
                        roles: roles.to_vec(),
                        department_id,
                    },
                    now,
                )?;
                Some(password)
            };
            created.push(DemoUser {
                username: username.to_string(),
                roles: roles.to_vec(),
                department: department.map(str::to_string),
                password,
            });
        }
        Ok(DemoSummary {
            imports,
            users: created,
        })
    })
}
