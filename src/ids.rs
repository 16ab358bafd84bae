//! Newtype identifiers: a `UserId` can never be passed where a `SessionId` is expected.

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub String);

        impl $name {
            /// A fresh, time-ordered identifier.
            pub fn generate() -> Self {
                $name(crate::db::new_id())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// Parses an identifier given by a client; `None` when it is not a UUID.
            pub fn parse(s: &str) -> Option<Self> {
                uuid::Uuid::parse_str(s).ok().map(|u| $name(u.hyphenated().to_string()))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// Identifies a staff account.
    UserId
);
id_type!(
    /// Identifies a signed-in session (one refresh-token family).
    SessionId
);
id_type!(
    /// Identifies an API client (a channel gateway).
    ApiClientId
);
id_type!(
    /// Identifies a department (an organisation unit that handles tickets).
    DepartmentId
);
id_type!(
    /// Identifies an administrative region (county, town, village, grid).
    RegionId
);
id_type!(
    /// Identifies a category of the service catalogue.
    CategoryId
);
id_type!(
    /// Identifies a routing rule.
    RuleId
);
id_type!(
    /// Identifies a ticket.
    TicketId
);
