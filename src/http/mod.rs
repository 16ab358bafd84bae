//! The HTTP layer: thin handlers, the route table, error plumbing, middleware, OpenAPI.
//!
//! Every route is declared once in [`endpoints`]; the app is built from that table and a test
//! checks each entry against the OpenAPI document, so an undocumented route fails the build's tests.

pub mod api_clients;
pub mod auth;
pub mod errors;
pub mod extract;
pub mod json;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod ops;
pub mod org;
pub mod routing;
pub mod tickets;
pub mod users;

use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::{web, Route};

/// One route: method, path (actix and OpenAPI share the `{param}` syntax) and handler.
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    handler: fn(Route) -> Route,
}

fn ep(method: Method, path: &'static str, handler: fn(Route) -> Route) -> Endpoint {
    Endpoint {
        method,
        path,
        handler,
    }
}

/// The route table of the service.
pub fn endpoints() -> Vec<Endpoint> {
    use Method as M;
    vec![
        ep(M::GET, "/healthz", |r| r.to(ops::healthz)),
        ep(M::GET, "/readyz", |r| r.to(ops::readyz)),
        ep(M::GET, "/metrics", |r| r.to(ops::metrics)),
        ep(M::POST, "/api/v1/auth/login", |r| r.to(auth::login)),
        ep(M::POST, "/api/v1/auth/refresh", |r| r.to(auth::refresh)),
        ep(M::POST, "/api/v1/auth/logout", |r| r.to(auth::logout)),
        ep(M::GET, "/api/v1/me", |r| r.to(auth::me)),
        ep(M::POST, "/api/v1/me/password", |r| {
            r.to(auth::change_password)
        }),
        ep(M::GET, "/api/v1/users", |r| r.to(users::list)),
        ep(M::POST, "/api/v1/users", |r| r.to(users::create)),
        ep(M::GET, "/api/v1/users/{id}", |r| r.to(users::get)),
        ep(M::PATCH, "/api/v1/users/{id}", |r| r.to(users::update)),
        ep(M::POST, "/api/v1/users/{id}/password", |r| {
            r.to(users::set_password)
        }),
        ep(M::GET, "/api/v1/api-clients", |r| r.to(api_clients::list)),
        ep(M::POST, "/api/v1/api-clients", |r| {
            r.to(api_clients::create)
        }),
        ep(M::GET, "/api/v1/api-clients/{id}", |r| {
            r.to(api_clients::get)
        }),
        ep(M::PATCH, "/api/v1/api-clients/{id}", |r| {
            r.to(api_clients::update)
        }),
        ep(M::GET, "/api/v1/departments", |r| {
            r.to(org::list_departments)
        }),
        ep(M::POST, "/api/v1/departments", |r| {
            r.to(org::create_department)
        }),
        ep(M::GET, "/api/v1/departments/{id}", |r| {
            r.to(org::get_department)
        }),
        ep(M::PATCH, "/api/v1/departments/{id}", |r| {
            r.to(org::update_department)
        }),
        ep(M::GET, "/api/v1/regions", |r| r.to(org::list_regions)),
        ep(M::POST, "/api/v1/regions", |r| r.to(org::create_region)),
        ep(M::GET, "/api/v1/regions/resolve", |r| {
            r.to(org::resolve_region)
        }),
        ep(M::GET, "/api/v1/regions/{id}", |r| r.to(org::get_region)),
        ep(M::PATCH, "/api/v1/regions/{id}", |r| {
            r.to(org::update_region)
        }),
        ep(M::GET, "/api/v1/categories", |r| r.to(org::list_categories)),
        ep(M::POST, "/api/v1/categories", |r| {
            r.to(org::create_category)
        }),
        ep(M::GET, "/api/v1/categories/{id}", |r| {
            r.to(org::get_category)
        }),
        ep(M::PATCH, "/api/v1/categories/{id}", |r| {
            r.to(org::update_category)
        }),
        ep(M::GET, "/api/v1/routing-rules", |r| {
            r.to(routing::list_rules)
        }),
        ep(M::POST, "/api/v1/routing-rules", |r| {
            r.to(routing::create_rule)
        }),
        ep(M::GET, "/api/v1/routing-rules/{id}", |r| {
            r.to(routing::get_rule)
        }),
        ep(M::PATCH, "/api/v1/routing-rules/{id}", |r| {
            r.to(routing::update_rule)
        }),
        ep(M::DELETE, "/api/v1/routing-rules/{id}", |r| {
            r.to(routing::delete_rule)
        }),
        ep(M::GET, "/api/v1/routing-rules/{id}/history", |r| {
            r.to(routing::rule_history)
        }),
        ep(M::POST, "/api/v1/routing/preview", |r| {
            r.to(routing::preview)
        }),
        ep(M::POST, "/api/v1/import/{dataset}", |r| {
            r.to(routing::import)
        }),
        ep(M::GET, "/api/v1/export/{dataset}", |r| {
            r.to(routing::export)
        }),
        ep(M::POST, "/api/v1/tickets", |r| r.to(tickets::create)),
        ep(M::GET, "/api/v1/tickets", |r| r.to(tickets::list)),
        ep(M::GET, "/api/v1/tickets/similar", |r| {
            r.to(tickets::similar)
        }),
        ep(M::GET, "/api/v1/tickets/{id}", |r| r.to(tickets::get)),
        ep(M::GET, "/api/v1/tickets/{id}/events", |r| {
            r.to(tickets::events)
        }),
        ep(M::POST, "/api/v1/tickets/{id}/reveal", |r| {
            r.to(tickets::reveal)
        }),
        ep(M::POST, "/api/v1/tickets/{id}/{action}", |r| {
            r.to(tickets::act)
        }),
        ep(M::GET, "/api/v1/access-log", |r| r.to(tickets::access_log)),
        ep(M::GET, "/api/v1/citizen/tickets", |r| {
            r.to(tickets::citizen_list)
        }),
        ep(M::GET, "/api/v1/citizen/tickets/{id}", |r| {
            r.to(tickets::citizen_get)
        }),
        ep(M::POST, "/api/v1/tickets/{id}/attachments", |r| {
            r.to(tickets::upload)
        }),
        ep(M::GET, "/api/v1/tickets/{id}/attachments", |r| {
            r.to(tickets::list_attachments)
        }),
        ep(
            M::GET,
            "/api/v1/tickets/{id}/attachments/{attachment_id}",
            |r| r.to(tickets::download),
        ),
    ]
}

/// Registers the route table: one resource per path, whose unknown methods answer 405.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut by_path: BTreeMap<&'static str, Vec<Endpoint>> = BTreeMap::new();
    for endpoint in endpoints() {
        by_path.entry(endpoint.path).or_default().push(endpoint);
    }
    // Literal segments must win over `{param}` ones (`/regions/resolve` before `/regions/{id}`):
    // register paths with fewer parameters first.
    let mut by_path: Vec<_> = by_path.into_iter().collect();
    by_path.sort_by_key(|(path, _)| path.matches('{').count());
    for (path, endpoints) in by_path {
        let mut resource = web::resource(path).default_service(web::to(errors::wrong_method));
        for endpoint in endpoints {
            resource = resource.route((endpoint.handler)(web::route().method(endpoint.method)));
        }
        cfg.service(resource);
    }
}
