//! The OpenAPI 3 document, generated from the handlers' annotations (utoipa).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{api_clients, auth, ops, org, routing, tickets, users};

#[derive(OpenApi)]
#[openapi(
    info(title = "hotline", description = "Citizen-request hotline (12345-style) back end. \
        Errors answer `{\"error\": \"<code>\", \"message\": \"...\"}`; lists answer \
        `{\"items\": [...], \"next_cursor\": ...}` with `?limit=` (1-500, default 50) and `?cursor=`."),
    paths(
        ops::healthz, ops::readyz, ops::metrics,
        auth::login, auth::refresh, auth::logout, auth::me, auth::change_password,
        users::list, users::create, users::get, users::update, users::set_password,
        api_clients::list, api_clients::create, api_clients::get, api_clients::update,
        org::list_departments, org::create_department, org::get_department, org::update_department,
        org::list_regions, org::create_region, org::resolve_region, org::get_region, org::update_region,
        org::list_categories, org::create_category, org::get_category, org::update_category,
        routing::list_rules, routing::create_rule, routing::get_rule, routing::update_rule, routing::delete_rule,
        routing::rule_history, routing::preview, routing::import, routing::export,
        tickets::create, tickets::list, tickets::similar, tickets::get, tickets::reveal, tickets::events, tickets::act,
        tickets::access_log, tickets::citizen_list, tickets::citizen_get,
        tickets::upload, tickets::list_attachments, tickets::download,
    ),
    // types only referenced from query parameters are listed here, so that every `$ref` resolves
    components(schemas(
        crate::error::ErrorBody,
        crate::bulk::Format,
        crate::bulk::Dataset,
        crate::tickets::model::Order,
        crate::tickets::model::Queue,
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
