//! `/api/v1/callbacks`: the callback desk (queue, claim, reassign, attempts), a ticket's
//! callbacks, and the citizen's own rating from the mini-program. See docs/callbacks.md.

use actix_web::{get, post, web};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{Principal, Scope};
use crate::db;
use crate::error::{AppError, ErrorBody};
use crate::http::json::Json;
use crate::http::tickets::staff_viewer;
use crate::ids::TicketId;
use crate::pagination::Page;
use crate::state::AppState;
use crate::tickets::callbacks::{
    self, AttemptInput, Callback, QueueFilter, RatingInput, ReassignInput, TicketCallbacks,
};
use crate::tickets::Viewer;

type Id = web::Path<uuid::Uuid>;

#[utoipa::path(tag = "callbacks", security(("bearer" = [])),
    params(QueueFilter),
    responses(
        (status = 200, description = "Pending callbacks, soonest due first; one per distinct citizen", body = Page<Callback>),
        (status = 403, description = "Not hotline staff", body = ErrorBody),
    ))]
#[get("/api/v1/callbacks")]
pub async fn queue(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<QueueFilter>,
) -> Result<web::Json<Page<Callback>>, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let filter = filter.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            callbacks::queue(c, &viewer, filter.clone())
        })
        .await?,
    ))
}

#[utoipa::path(tag = "callbacks", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "Claimed (or renewed) for `tickets.callback_claim_minutes`", body = Callback),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Another operator holds it (`callback_claimed`), or it has ended (`callback_finished`)", body = ErrorBody),
    ))]
#[post("/api/v1/callbacks/{id}/claim")]
pub async fn claim(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
) -> Result<web::Json<Callback>, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let id = id.into_inner().to_string();
    let now = state.clock.now();
    Ok(web::Json(
        db::run(&state.pool, move |c| callbacks::claim(c, &viewer, &id, now)).await?,
    ))
}

#[utoipa::path(tag = "callbacks", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), request_body = ReassignInput,
    responses(
        (status = 200, description = "Given to the operator", body = Callback),
        (status = 403, description = "Not a supervisor", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
#[post("/api/v1/callbacks/{id}/reassign")]
pub async fn reassign(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
    body: Json<ReassignInput>,
) -> Result<web::Json<Callback>, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let id = id.into_inner().to_string();
    let now = state.clock.now();
    let input = body.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            callbacks::reassign(c, &viewer, &id, input.clone(), now)
        })
        .await?,
    ))
}

#[utoipa::path(tag = "callbacks", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), request_body = AttemptInput,
    responses(
        (status = 200, description = "Recorded; when it ended the last pending callback the ticket is closed or sent back", body = TicketCallbacks),
        (status = 409, description = "The caller does not hold the claim (`claim_required`), or the callback has ended", body = ErrorBody),
        (status = 422, description = "A verdict missing for a reached citizen, or given for an unreached one; bad times", body = ErrorBody),
    ))]
#[post("/api/v1/callbacks/{id}/attempts")]
pub async fn attempt(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
    body: Json<AttemptInput>,
) -> Result<web::Json<TicketCallbacks>, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let id = id.into_inner().to_string();
    let now = state.clock.now();
    let input = body.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            callbacks::attempt(c, &viewer, &id, input.clone(), now)
        })
        .await?,
    ))
}

#[utoipa::path(tag = "callbacks", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The ticket's callbacks (every round) and every attempt", body = TicketCallbacks),
        (status = 404, body = ErrorBody),
    ))]
#[get("/api/v1/tickets/{id}/callbacks")]
pub async fn of_ticket(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
) -> Result<web::Json<TicketCallbacks>, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let id = TicketId(id.into_inner().to_string());
    Ok(web::Json(
        db::run(&state.pool, move |c| callbacks::of_ticket(c, &viewer, &id)).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CitizenQuery {
    /// The citizen's WeChat open id.
    pub open_id: String,
}

#[utoipa::path(tag = "callbacks", security(("api_key" = [])),
    params(("id" = String, Path, format = Uuid), CitizenQuery), request_body = RatingInput,
    responses(
        (status = 200, description = "Recorded as the citizen's completed callback (channel `miniprogram`)", body = TicketCallbacks),
        (status = 403, description = "Not an API client with the `tickets:rate` scope", body = ErrorBody),
        (status = 404, description = "Not this citizen's ticket", body = ErrorBody),
        (status = 409, description = "Not replied (`not_replied`), or already rated (`already_rated`)", body = ErrorBody),
    ))]
#[post("/api/v1/citizen/tickets/{id}/rating")]
pub async fn rate(
    state: web::Data<AppState>,
    principal: Principal,
    id: Id,
    query: web::Query<CitizenQuery>,
    body: Json<RatingInput>,
) -> Result<web::Json<TicketCallbacks>, AppError> {
    principal.require_scope(Scope::TicketsRate)?;
    let Principal::ApiClient(client) = &principal else {
        return Err(AppError::Forbidden(
            "ratings come from the mini-program gateway".into(),
        ));
    };
    let now = state.clock.now();
    let viewer = Viewer::for_client(client, &state.tickets, now);
    let id = TicketId(id.into_inner().to_string());
    let open_id = query.into_inner().open_id;
    let input = body.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            callbacks::rate(c, &viewer, &id, &open_id, input.clone(), now)
        })
        .await?,
    ))
}

// ---- supervision (督办) ----------------------------------------------------------------------

use crate::tickets::supervision::{self, Flag, FlagFilter, FlagText, NewFlag};

#[utoipa::path(tag = "callbacks", security(("bearer" = [])),
    params(FlagFilter),
    responses((status = 200, description = "Flags, soonest due first (a department sees its own)", body = Vec<Flag>)))]
#[get("/api/v1/supervision")]
pub async fn flags(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<FlagFilter>,
) -> Result<web::Json<Vec<Flag>>, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let filter = filter.into_inner();
    Ok(web::Json(
        db::run(&state.pool, move |c| {
            supervision::list(c, &viewer, filter.clone())
        })
        .await?,
    ))
}

#[utoipa::path(tag = "callbacks", security(("bearer" = [])),
    request_body = NewFlag,
    responses(
        (status = 201, description = "Flagged; the department is told, the due time runs as the ticket's `supervision` deadline", body = Flag),
        (status = 403, description = "Not a supervisor", body = ErrorBody),
        (status = 409, description = "An open flag exists (`already_flagged`), or the ticket is closed", body = ErrorBody),
    ))]
#[post("/api/v1/supervision")]
pub async fn flag(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<NewFlag>,
) -> Result<actix_web::HttpResponse, AppError> {
    let viewer = staff_viewer(&state, &principal)?;
    let now = state.clock.now();
    let input = body.into_inner();
    let flag = db::run(&state.pool, move |c| {
        supervision::flag(c, &viewer, input.clone(), now)
    })
    .await?;
    Ok(actix_web::HttpResponse::Created().json(flag))
}

macro_rules! flag_step {
    ($name:ident, $path:literal, $doc:literal, $f:path) => {
        #[utoipa::path(tag = "callbacks", security(("bearer" = [])),
            params(("id" = String, Path, format = Uuid)), request_body = FlagText,
            responses(
                (status = 200, description = $doc, body = Flag),
                (status = 403, body = ErrorBody),
                (status = 404, body = ErrorBody),
                (status = 409, description = "Cleared already, or answered already", body = ErrorBody),
            ))]
        #[post($path)]
        pub async fn $name(
            state: web::Data<AppState>,
            principal: Principal,
            id: Id,
            body: Json<FlagText>,
        ) -> Result<web::Json<Flag>, AppError> {
            let viewer = staff_viewer(&state, &principal)?;
            let id = id.into_inner().to_string();
            let now = state.clock.now();
            let input = body.into_inner();
            Ok(web::Json(
                db::run(&state.pool, move |c| $f(c, &viewer, &id, input.clone(), now)).await?,
            ))
        }
    };
}

flag_step!(
    urge,
    "/api/v1/supervision/{id}/urge",
    "Urged (催办): counted, recorded with its note (supervisors)",
    supervision::urge
);
flag_step!(
    respond,
    "/api/v1/supervision/{id}/respond",
    "Answered by the lead department; the flag's deadline is met or recorded late",
    supervision::respond
);
flag_step!(
    clear,
    "/api/v1/supervision/{id}/clear",
    "Cleared (un-flagged) with a reason (supervisors)",
    supervision::clear
);
