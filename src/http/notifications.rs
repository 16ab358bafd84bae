//! `/api/v1/outbox` (admins: list, inspect, re-send, counts) and `/api/v1/webhooks` (admins
//! manage the subscriptions). See docs/notifications.md.

use actix_web::{delete, get, patch, post};
use actix_web::{web, HttpResponse};

use crate::auth::{Principal, Role};
use crate::db;
use crate::error::{AppError, ErrorBody};
use crate::http::json::Json;
use crate::notify::outbox::{self, ListFilter, Message, ResendRequest, Resent, Stats};
use crate::notify::webhooks::{self, NewSubscription, Subscription, SubscriptionChanges};
use crate::pagination::Page;
use crate::state::AppState;

type Id = web::Path<uuid::Uuid>;

#[utoipa::path(tag = "notifications", security(("bearer" = [])),
    params(ListFilter),
    responses(
        (status = 200, description = "Messages, newest first", body = Page<Message>),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
#[get("/api/v1/outbox")]
pub async fn list_outbox(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<ListFilter>,
) -> Result<web::Json<Page<Message>>, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    let filter = filter.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| outbox::list(c, filter.clone())).await?,
    ))
}

#[utoipa::path(tag = "notifications", security(("bearer" = [])),
    responses((status = 200, description = "Counts by state, and the age of the oldest undelivered message", body = Stats)))]
#[get("/api/v1/outbox/stats")]
pub async fn outbox_stats(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<Stats>, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    let now = state.clock.now();
    Ok(web::Json(
        db::run(&state.pool, move |c| outbox::stats(c, now, true)).await?,
    ))
}

#[utoipa::path(tag = "notifications", security(("bearer" = [])),
    request_body = ResendRequest,
    responses(
        (status = 200, description = "Queued again for delivery now, attempts reset; webhooks keep their idempotency id", body = Resent),
        (status = 422, description = "Neither ids nor state, or a state other than dead/retrying", body = ErrorBody),
    ))]
#[post("/api/v1/outbox/resend")]
pub async fn resend(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<ResendRequest>,
) -> Result<web::Json<Resent>, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    let now = state.clock.now();
    let request = body.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            outbox::resend(c, request.clone(), now)
        })
        .await?,
    ))
}

#[utoipa::path(tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The message with its template context or webhook body", body = Message),
        (status = 404, body = ErrorBody),
    ))]
#[get("/api/v1/outbox/{id}")]
pub async fn get_message(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
) -> Result<web::Json<Message>, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    let id = id.into_inner().to_string();
    Ok(web::Json(
        db::run(&state.pool, move |c| outbox::get(c, &id)).await?,
    ))
}

#[utoipa::path(tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "Queued again for delivery now", body = Message),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Being delivered at this moment", body = ErrorBody),
    ))]
#[post("/api/v1/outbox/{id}/resend")]
pub async fn resend_one(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
) -> Result<web::Json<Message>, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    let id = id.into_inner().to_string();
    let now = state.clock.now();
    Ok(web::Json(
        db::run(&state.pool, move |c| outbox::resend_one(c, &id, now)).await?,
    ))
}

#[utoipa::path(tag = "notifications", security(("bearer" = [])),
    responses((status = 200, description = "Every subscription (secrets are never shown again)", body = Vec<Subscription>)))]
#[get("/api/v1/webhooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<Vec<Subscription>>, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    Ok(web::Json(db::run(&state.pool, webhooks::list).await?))
}

#[utoipa::path(tag = "notifications", security(("bearer" = [])),
    request_body = NewSubscription,
    responses(
        (status = 201, description = "Created; the answer carries the signing secret, once", body = Subscription),
        (status = 422, description = "Not an http(s) URL, a private target, no event type", body = ErrorBody),
    ))]
#[post("/api/v1/webhooks")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<NewSubscription>,
) -> Result<HttpResponse, AppError> {
    let actor = principal.require_any_role(&[Role::Admin])?.id.clone();
    let now = state.clock.now();
    let input = body.into_inner();
    let st = state.clone();
    let created = db::run(&state.pool, move |c| {
        webhooks::create(
            c,
            &st.settings.notifications.webhooks,
            input.clone(),
            actor.as_str(),
            now,
        )
    })
    .await?;
    Ok(HttpResponse::Created().json(created))
}

#[utoipa::path(tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Subscription), (status = 404, body = ErrorBody)))]
#[get("/api/v1/webhooks/{id}")]
pub async fn get_webhook(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
) -> Result<web::Json<Subscription>, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    let id = id.into_inner().to_string();
    Ok(web::Json(
        db::run(&state.pool, move |c| webhooks::get(c, &id)).await?,
    ))
}

#[utoipa::path(tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), request_body = SubscriptionChanges,
    responses(
        (status = 200, description = "Changed; carries the new secret when rotated", body = Subscription),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
#[patch("/api/v1/webhooks/{id}")]
pub async fn update_webhook(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
    body: Json<SubscriptionChanges>,
) -> Result<web::Json<Subscription>, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    let id = id.into_inner().to_string();
    let now = state.clock.now();
    let changes = body.into_inner();
    let st = state.clone();
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            webhooks::update(
                c,
                &st.settings.notifications.webhooks,
                &id,
                changes.clone(),
                now,
            )
        })
        .await?,
    ))
}

#[utoipa::path(tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses((status = 204, description = "Deleted; its undelivered messages go dead"), (status = 404, body = ErrorBody)))]
#[delete("/api/v1/webhooks/{id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
) -> Result<HttpResponse, AppError> {
    principal.require_any_role(&[Role::Admin])?;
    let id = id.into_inner().to_string();
    db::run(&state.pool, move |c| webhooks::delete(c, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
