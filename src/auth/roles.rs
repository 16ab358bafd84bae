//! Staff roles and API-client scopes.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a staff account may do. A user may hold several roles.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    ToSchema,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Role {
    /// Manages accounts, API clients, configuration data.
    Admin,
    /// Sees everything, audits deadlines and callbacks, approves extensions.
    Supervisor,
    /// Routes tickets to departments and reviews returns.
    Dispatcher,
    /// Enters hotline calls and makes callbacks.
    Operator,
    /// Handles tickets of their department.
    DepartmentStaff,
    /// Handles tickets and manages the staff of their department.
    DepartmentAdmin,
}

impl Role {
    pub const ALL: &'static [Role] = <Role as strum::VariantArray>::VARIANTS;

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown role '{0}'; known roles: admin, supervisor, dispatcher, operator, department_staff, department_admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        <Role as strum::VariantArray>::VARIANTS
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// A non-empty set of roles, stored as a sorted comma-separated list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoleSet(BTreeSet<Role>);

impl RoleSet {
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Self {
        RoleSet(roles.into_iter().collect())
    }
    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn to_vec(&self) -> Vec<Role> {
        self.0.iter().copied().collect()
    }
    pub fn to_db(&self) -> String {
        self.0
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
    /// Reads the stored form; unknown codes (from a newer version) are skipped.
    pub fn from_db(s: &str) -> Self {
        RoleSet(s.split(',').filter_map(|r| r.trim().parse().ok()).collect())
    }
}

/// What an API client may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    ToSchema,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
pub enum Scope {
    /// Submit tickets on behalf of citizens (mini-program gateway).
    #[serde(rename = "tickets:submit")]
    #[strum(serialize = "tickets:submit")]
    TicketsSubmit,
    /// Read the status of the citizens' own tickets.
    #[serde(rename = "tickets:read")]
    #[strum(serialize = "tickets:read")]
    TicketsRead,
    /// Submit the citizen's own satisfaction rating of their replied ticket.
    #[serde(rename = "tickets:rate")]
    #[strum(serialize = "tickets:rate")]
    TicketsRate,
    /// Submit service requests through Open311 GeoReport v2 (`POST /open311/v2/requests`).
    #[serde(rename = "open311:submit")]
    #[strum(serialize = "open311:submit")]
    Open311Submit,
}

impl Scope {
    pub const ALL: &'static [Scope] = <Scope as strum::VariantArray>::VARIANTS;

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unknown scope '{0}'; known scopes: tickets:submit, tickets:read, tickets:rate, open311:submit"
)]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownScope(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_set_round_trips_sorted() {
        let set = RoleSet::new([Role::Operator, Role::Admin, Role::Operator]);
        assert_eq!(set.to_db(), "admin,operator");
        assert_eq!(RoleSet::from_db("admin,operator"), set);
        assert!("boss".parse::<Role>().is_err());
    }
}
