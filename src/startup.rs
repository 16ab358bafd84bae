//! Builds the application: pool, migrations, keys, state, and the HTTP server on its listener.
//! `main` and the integration tests start the very same `Application` (tests on port 0).

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{web, App, HttpResponse, HttpServer};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::accounts::throttle::ThrottlePolicy;
use crate::auth::tokens::{self, JwtKeys};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db;
use crate::error::AppError;
use crate::http::metrics::Metrics;
use crate::http::openapi::ApiDoc;
use crate::http::{self, errors, middleware};
use crate::notify::worker::Notifier;
use crate::state::AppState;
use crate::tickets::deadlines::DeadlineRules;
use crate::tickets::{attachments, TicketPolicy};

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

/// Opens the pool and brings the schema up to date (used by `serve` and `migrate`).
pub async fn prepare_database(settings: &Settings) -> Result<(db::Pool, Vec<String>), AppError> {
    let db_settings = settings.database.clone();
    let pool = web::block(move || db::build_pool(&db_settings))
        .await
        .map_err(|_| AppError::Internal("pool set-up was cancelled".into()))??;
    let applied = db::run(&pool, db::run_migrations).await?;
    for name in &applied {
        tracing::info!(migration = %name, "applied migration");
    }
    // the tickets from before full-text search, indexed once: when its migration is applied
    // (later tickets are indexed at intake; scanning for missing ones at every start would read
    // the whole table)
    if applied
        .iter()
        .any(|v| v == crate::tickets::search::MIGRATION)
    {
        let indexed = db::run(&pool, |c| crate::tickets::search::index_missing(c, 1000)).await?;
        tracing::info!(
            tickets = indexed,
            "indexed existing tickets for full-text search"
        );
    }
    Ok((pool, applied))
}

impl Application {
    pub async fn build(settings: Settings, clock: Clock) -> Result<Application, AppError> {
        let (pool, _) = prepare_database(&settings).await?;
        crate::phone::warm_up();
        // files of uploads that never committed (a crash at the wrong moment); an upload in
        // flight in another instance is younger than the grace period
        let data_dir = settings.data_dir.clone();
        let swept = db::run(&pool, move |c| {
            attachments::sweep_orphans(c, &data_dir, attachments::ORPHAN_GRACE)
        })
        .await;
        if let Err(e) = swept {
            tracing::warn!(error = %e, "could not sweep orphaned attachment files");
        }
        let secret = tokens::load_or_create_secret(
            settings.auth.jwt_secret.as_ref(),
            &settings.auth.jwt_secret_file,
            &settings.data_dir,
        )?;
        let keys = JwtKeys::new(
            &secret,
            &settings.auth.issuer,
            settings.auth.access_token_ttl_seconds,
        );
        let metrics = Metrics::new().map_err(|e| AppError::Internal(format!("metrics: {e}")))?;
        let listener = TcpListener::bind(&settings.server.bind).map_err(|e| {
            AppError::Config(format!(
                "server.bind: cannot listen on {}: {e}",
                settings.server.bind
            ))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| AppError::Internal(format!("listener address: {e}")))?
            .port();
        let calendar = settings
            .calendar
            .build()
            .map_err(|e| AppError::Config(e.to_string()))?;
        let notifier = Notifier::new(&settings.notifications, calendar.time_zone())
            .map_err(|e| AppError::Config(e.to_string()))?;
        let state = web::Data::new(AppState {
            notifier: Arc::new(notifier),
            principals: Arc::new(crate::accounts::sessions::PrincipalCache::new(
                std::time::Duration::from_secs(settings.auth.session_cache_seconds),
            )),
            pool,
            calendar: calendar.clone(),
            throttle: ThrottlePolicy::from(&settings.auth),
            tickets: TicketPolicy {
                auto_dispatch: settings.tickets.auto_dispatch,
                department_contact_roles: settings.tickets.department_contact_roles.clone(),
                followup: crate::tickets::Followup::from(&settings.tickets),
                deadlines: Arc::new(DeadlineRules::new(calendar, settings.deadlines.clone())),
            },
            settings: Arc::new(settings),
            keys,
            clock,
            metrics,
        });
        let server = run(listener, state.clone())?;
        let interval = state.settings.jobs.sweep_interval_seconds;
        if interval > 0 {
            crate::jobs::spawn_sweeper(state.clone(), std::time::Duration::from_secs(interval));
            // the export recovery runs with the sweeper (both off: a process that only serves)
            crate::jobs::spawn_export_clock(state.clone());
        }
        let poll = state.settings.notifications.poll_interval_ms;
        if poll > 0 {
            crate::jobs::spawn_outbox_worker(state.clone(), std::time::Duration::from_millis(poll));
            crate::jobs::spawn_outbox_clock(state.clone());
        }
        Ok(Application {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until SIGTERM/SIGINT, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn run(listener: TcpListener, state: web::Data<AppState>) -> Result<Server, AppError> {
    let settings = state.settings.clone();
    let server_settings = settings.server.clone();
    // the pool's connections shared among the workers, plus one each for other blocking work
    let workers = match server_settings.workers {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        n => n,
    };
    let blocking_threads = (settings.database.pool_size() as usize).div_ceil(workers) + 1;
    let mut server = HttpServer::new(move || {
        // the routes, and the OpenAPI document collected from the very same registration
        let (app, openapi) = App::new()
            .into_utoipa_app()
            .openapi(ApiDoc::openapi())
            .configure(http::configure)
            .split_for_parts();
        app.app_data(state.clone())
            .app_data(web::PayloadConfig::new(settings.server.max_json_bytes))
            .app_data(errors::query_config())
            .app_data(errors::path_config())
            .route(
                "/docs",
                web::get().to(|| async {
                    HttpResponse::PermanentRedirect()
                        .insert_header(("Location", "/docs/"))
                        .finish()
                }),
            )
            .service(SwaggerUi::new("/docs/{_:.*}").url("/api/v1/openapi.json", openapi))
            .service(http::console::redirect)
            .service(http::console::files)
            .default_service(web::to(errors::no_route))
            .wrap(ErrorHandlers::new().default_handler(errors::ensure_json_error))
            .wrap(from_fn(middleware::input_guard))
            .wrap(from_fn(middleware::security_headers))
            .wrap(from_fn(middleware::request_context))
    })
    .shutdown_timeout(server_settings.shutdown_timeout_seconds)
    // database work runs on each worker's blocking threads (`db::run`); more threads than pooled
    // connections only wait for one, and each thread keeps its allocator's pages (a few MiB
    // after building a page of tickets): actix's default of 512 a process took the server's
    // RSS past 300 MiB under load
    .worker_max_blocking_threads(blocking_threads);
    if server_settings.workers > 0 {
        server = server.workers(server_settings.workers);
    }
    Ok(server
        .listen(listener)
        .map_err(|e| AppError::Internal(format!("cannot start server: {e}")))?
        .run())
}
