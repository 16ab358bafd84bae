//! The HTTP layer: thin handlers, the route list, error plumbing, middleware, OpenAPI.
//!
//! Every route is declared once, on its handler; [`configure`] registers the handlers, and the
//! OpenAPI document is collected from the same registration ([`document`]).

pub mod api_clients;
pub mod auth;
pub mod calendar;
pub mod callbacks;
pub mod console;
pub mod deadlines;
pub mod errors;
pub mod extract;
pub mod json;
pub mod metrics;
pub mod middleware;
pub mod notifications;
pub mod open311;
pub mod openapi;
pub mod ops;
pub mod org;
pub mod routing;
pub mod stats;
pub mod tickets;
pub mod users;

use std::sync::OnceLock;

use actix_web::http::Method;
use utoipa_actix_web::service_config::ServiceConfig;

/// The routes of the service, each declared once: the handler's own attribute
/// (`#[get("/api/v1/tickets")]`) gives method and path, and its `#[utoipa::path]`
/// documents it; registering it here serves it *and* adds it to the OpenAPI document
/// (utoipa-actix-web), so the two cannot drift. A literal segment is registered before a
/// `{param}` one at the same place (`/regions/resolve` before `/regions/{id}`).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics)
        .service(auth::login)
        .service(auth::refresh)
        .service(auth::logout)
        .service(auth::me)
        .service(auth::change_password)
        .service(users::list)
        .service(users::create)
        .service(users::get)
        .service(users::update)
        .service(users::set_password)
        .service(api_clients::list)
        .service(api_clients::create)
        .service(api_clients::get)
        .service(api_clients::update)
        .service(org::list_departments)
        .service(org::create_department)
        .service(org::get_department)
        .service(org::update_department)
        .service(org::list_regions)
        .service(org::create_region)
        .service(org::resolve_region)
        .service(org::get_region)
        .service(org::update_region)
        .service(org::list_categories)
        .service(org::create_category)
        .service(org::get_category)
        .service(org::update_category)
        .service(routing::list_rules)
        .service(routing::create_rule)
        .service(routing::get_rule)
        .service(routing::update_rule)
        .service(routing::delete_rule)
        .service(routing::rule_history)
        .service(routing::preview)
        .service(routing::import)
        .service(routing::export)
        .service(tickets::create)
        .service(tickets::list)
        .service(tickets::search)
        .service(tickets::similar)
        .service(tickets::overdue_summary)
        .service(tickets::get)
        .service(tickets::events)
        .service(callbacks::of_ticket)
        .service(tickets::reveal)
        .service(tickets::upload)
        .service(tickets::list_attachments)
        .service(tickets::download)
        .service(tickets::act)
        .service(tickets::access_log)
        .service(tickets::citizen_list)
        .service(tickets::citizen_get)
        .service(callbacks::rate)
        .service(callbacks::queue)
        .service(callbacks::claim)
        .service(callbacks::reassign)
        .service(callbacks::attempt)
        .service(callbacks::flags)
        .service(callbacks::flag)
        .service(callbacks::urge)
        .service(callbacks::respond)
        .service(callbacks::clear)
        .service(calendar::list)
        .service(calendar::get)
        .service(calendar::put)
        .service(calendar::history)
        .service(deadlines::get)
        .service(deadlines::put)
        .service(deadlines::history)
        .service(stats::indicators_workbook)
        .service(stats::indicators)
        .service(stats::callback_audit)
        .service(stats::ledger)
        .service(stats::request_export)
        .service(stats::list_exports)
        .service(stats::get_export)
        .service(stats::export_file)
        .service(stats::hotspots)
        .service(stats::dismiss_hotspot)
        .service(notifications::list_outbox)
        .service(notifications::outbox_stats)
        .service(notifications::resend)
        .service(notifications::get_message)
        .service(notifications::resend_one)
        .service(notifications::list_webhooks)
        .service(notifications::create_webhook)
        .service(notifications::get_webhook)
        .service(notifications::update_webhook)
        .service(notifications::delete_webhook)
        .service(open311::get)
        .service(open311::post);
}

/// The OpenAPI document of exactly the routes `configure` registers.
pub fn document() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    use utoipa_actix_web::AppExt;
    let (_, doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(openapi::ApiDoc::openapi())
        .configure(configure)
        .split_for_parts();
    doc
}

/// Each documented path with its methods, to tell "no such path" (404) from "no such method
/// here" (405); computed once.
pub fn route_patterns() -> &'static [(actix_web::dev::ResourceDef, Vec<Method>)] {
    static PATTERNS: OnceLock<Vec<(actix_web::dev::ResourceDef, Vec<Method>)>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        document()
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    (Method::GET, item.get.is_some()),
                    (Method::POST, item.post.is_some()),
                    (Method::PUT, item.put.is_some()),
                    (Method::PATCH, item.patch.is_some()),
                    (Method::DELETE, item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, present)| present.then_some(m))
                .collect();
                (actix_web::dev::ResourceDef::new(path.as_str()), methods)
            })
            .collect()
    })
}
