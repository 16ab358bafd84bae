//! The OpenAPI 3 document's frame: title, shared schemas, security schemes, tags. The paths
//! come from the routes themselves (`http::configure`, `http::document`).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "hotline", description = "Citizen-request hotline (12345-style) back end. \
        Errors answer `{\"error\": \"<code>\", \"message\": \"...\"}`; lists answer \
        `{\"items\": [...], \"next_cursor\": ...}` with `?limit=` (1-500, default 50) and `?cursor=`."),
    // types only referenced from query parameters are listed here, so that every `$ref` resolves
    components(schemas(
        crate::error::ErrorBody,
        crate::bulk::Format,
        crate::bulk::Dataset,
        crate::tickets::model::Order,
        crate::tickets::model::Queue,
        crate::tickets::model::Warning,
        crate::deadlines::Step,
        crate::tickets::state::Action,
        crate::vocab::Status,
        crate::vocab::Kind,
        crate::vocab::Urgency,
        crate::vocab::Channel,
    )),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Sign-in, tokens, the current principal"),
        (name = "users", description = "Staff accounts"),
        (name = "api-clients", description = "Channel gateways authenticated by API key"),
        (name = "organisation", description = "Departments, regions and the service catalogue"),
        (name = "routing", description = "Routing rules, the routing preview, bulk import and export"),
        (name = "tickets", description = "Intake, the lifecycle commands, queues, the event log, privacy"),
        (name = "callbacks", description = "The callback to the citizen: queue, claims, attempts, the verdict, the citizen's rating"),
        (name = "deadlines", description = "The time-limit policy of each step"),
        (name = "calendar", description = "The business calendar: holidays and make-up working days"),
        (name = "open311", description = "Open311 GeoReport v2 in XML and JSON (docs/open311.md)"),
        (name = "stats", description = "Indicators over a period, each with its formula (docs/indicators.md)"),
        (name = "notifications", description = "The outbox of e-mails and webhooks, webhook subscriptions"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
    }
}
