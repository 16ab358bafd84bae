//! The command line (clap): `serve`, `migrate`, `check-config`, `user ...`, `api-client ...`.

use std::io::BufRead;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::accounts::{api_clients, users};
use crate::auth::{password, Role, Scope};
use crate::bulk::{self, Dataset, Format};
use crate::clock::Clock;
use crate::config::{Overrides, Settings};
use crate::db::{self, DbConnection};
use crate::error::AppError;
use crate::ids::DepartmentId;
use crate::pagination::PageParams;
use crate::startup::{prepare_database, Application};
use crate::telemetry;

#[derive(Debug, Parser)]
#[command(
    name = "hotline",
    version,
    about = "Citizen-request hotline back end (12345-style)"
)]
pub struct Cli {
    /// Directory holding default.toml and the HOTLINE_ENV overlays.
    #[arg(
        long,
        global = true,
        env = "HOTLINE_CONFIG_DIR",
        default_value = "config"
    )]
    pub config_dir: PathBuf,
    /// Where the SQLite file, generated keys and attachments live (default ./data;
    /// also HOTLINE__DATA_DIR).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (creates and migrates the database, creates `admin` on first start).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Validate the configuration and print it, secrets redacted.
    CheckConfig(BindArg),
    /// Manage staff accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API clients (channel gateways).
    #[command(subcommand)]
    ApiClient(ApiClientCommand),
    /// Import departments, regions, categories or rules from a CSV or JSON file (all rows or none).
    Import {
        /// departments, regions, categories or rules
        dataset: Dataset,
        file: PathBuf,
        /// csv or json (default: from the file name's extension)
        #[arg(long)]
        format: Option<Format>,
    },
    /// Export a dataset to standard output in the import format.
    Export {
        dataset: Dataset,
        #[arg(long, default_value = "csv")]
        format: Format,
    },
    /// Load the demo county (departments, regions, categories, rules) and one account per role.
    SeedDemo,
    /// Drive real HTTP load at the service on a filled database, beside the database's own
    /// ceiling (docs/benchmarks.md).
    Load {
        /// Database to fill (must be empty); default: a temporary SQLite file.
        #[arg(long)]
        database_url: Option<String>,
        /// Tickets in the table before measuring.
        #[arg(long, default_value_t = 100_000)]
        fill: usize,
        /// Seconds each measurement runs.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrency levels, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,8")]
        concurrency: Vec<usize>,
        /// Measure again on a database an earlier run filled (`--database-url`), without
        /// filling it; its demo users get new passwords.
        #[arg(long, requires = "database_url")]
        again: bool,
    },
    /// Measure bulk import and routing on generated data in a scratch database.
    Bench {
        /// Database to fill (must be empty); default: a temporary SQLite file.
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 15_000)]
        regions: usize,
        #[arg(long, default_value_t = 2_000)]
        rules: usize,
        /// Routing calls to time (each run once by region id and once by point).
        #[arg(long, default_value_t = 1_000)]
        previews: usize,
        /// Tickets to create and then list (0: skip the ticket part).
        #[arg(long, default_value_t = 20_000)]
        tickets: usize,
        /// Time one deadline-sweeper pass with this many closed tickets in the table, for each
        /// size given (ascending, comma-separated, e.g. 100000,1000000; none: skip).
        #[arg(long, value_delimiter = ',')]
        sweeper_closed: Vec<usize>,
        /// Open tickets owing a warning during the sweeper passes.
        #[arg(long, default_value_t = 10_000)]
        sweeper_open: usize,
        /// Time a month of indicators and the year's ledger (CSV and XLSX, with the peak memory)
        /// with this many tickets of 2025 in the table, for each size given (ascending,
        /// comma-separated, e.g. 100000,1000000; none: skip).
        #[arg(long, value_delimiter = ',')]
        stats_tickets: Vec<usize>,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub bind: BindArg,
    /// Load the demo county and demo accounts before serving (see `seed-demo`).
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, Args)]
pub struct BindArg {
    /// HOST:PORT to listen on (default 127.0.0.1:8080; also HOTLINE__SERVER__BIND).
    #[arg(long)]
    pub bind: Option<String>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum UserCommand {
    /// Create an account; prints a generated password unless --password-stdin is given.
    Add {
        username: String,
        /// A role (repeat for several): admin, supervisor, dispatcher, operator,
        /// department_staff, department_admin.
        #[arg(long = "role", required = true)]
        roles: Vec<Role>,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// Code of the department (required for department roles).
        #[arg(long)]
        department: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List,
    /// Disable an account and end its sessions.
    Disable { username: String },
    /// Enable a disabled account.
    Enable { username: String },
    /// Set a new password (generated unless --password-stdin) and end the account's sessions.
    SetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum ApiClientCommand {
    /// Create an API client and print its key (shown only this once).
    Add {
        name: String,
        /// A scope (repeat for several): tickets:submit, tickets:read.
        #[arg(long = "scope", required = true)]
        scopes: Vec<Scope>,
    },
    /// List API clients.
    List,
    /// Disable an API client: its key is refused from now on.
    Disable { name: String },
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let bind = match &cli.command {
        Command::Serve(ServeArgs { bind: b, .. }) | Command::CheckConfig(b) => b.bind.clone(),
        _ => None,
    };
    let overrides = Overrides {
        bind,
        data_dir: cli.data_dir.clone(),
        database_url: None,
    };
    let settings = match Settings::load(&cli.config_dir, &overrides) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    telemetry::init(&settings.log);
    let result = actix_web::rt::System::new().block_on(dispatch(cli.command, settings));
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

async fn dispatch(command: Command, settings: Settings) -> Result<(), AppError> {
    match command {
        Command::Serve(args) => serve(settings, args.demo).await,
        Command::Migrate => {
            let (_, applied) = open_database(&settings).await?;
            if applied.is_empty() {
                println!("database is up to date");
            } else {
                for name in applied {
                    println!("applied {name}");
                }
            }
            Ok(())
        }
        Command::CheckConfig(_) => {
            println!("{}", settings.redacted_json());
            let calendar = settings
                .calendar
                .build()
                .map_err(|e| AppError::Config(e.to_string()))?;
            let years = calendar.years();
            println!(
                "business calendar: {} ({}), years {}",
                settings.calendar.time_zone,
                settings.calendar.working_hours.join(", "),
                years
                    .iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            // limits started now can end next year: both must be known
            let this_year = chrono::Datelike::year(&chrono::Utc::now());
            for year in [this_year, this_year + 1] {
                if !years.contains(&year) {
                    eprintln!(
                        "WARNING: the business calendar has no data for {year}: a deadline falling \
                         in it is an error until an admin adds the year (PUT /api/v1/calendar/{year}) \
                         or config/calendar/{year}.toml ships"
                    );
                }
            }
            // the templates parse and render, the SMTP settings build a transport
            crate::notify::worker::Notifier::new(&settings.notifications, calendar.time_zone())
                .map_err(|e| AppError::Config(e.to_string()))?;
            let email = &settings.notifications.email;
            if email.host.is_empty() {
                println!(
                    "e-mail: off (notifications.email.host is empty; e-mails wait in the outbox)"
                );
            } else {
                println!(
                    "e-mail: {}:{} ({:?}), from {}",
                    email.host, email.port, email.security, email.from
                );
            }
            println!("configuration is valid (backend: {:?})", settings.backend());
            Ok(())
        }
        Command::User(cmd) => {
            let (pool, _) = open_database(&settings).await?;
            db::run(&pool, move |c| user_command(c, cmd.clone())).await
        }
        Command::ApiClient(cmd) => {
            let (pool, _) = open_database(&settings).await?;
            db::run(&pool, move |c| api_client_command(c, cmd.clone())).await
        }
        Command::Import {
            dataset,
            file,
            format,
        } => {
            let format = match format {
                Some(f) => f,
                None => match file.extension().and_then(|e| e.to_str()) {
                    Some("json") => Format::Json,
                    Some("csv") => Format::Csv,
                    _ => {
                        return Err(AppError::validation(
                            "--format: give csv or json (the file name does not tell)",
                        ))
                    }
                },
            };
            let bytes = std::fs::read(&file).map_err(|e| {
                AppError::validation(format!("cannot read {}: {e}", file.display()))
            })?;
            let (pool, _) = open_database(&settings).await?;
            let now = Clock::system().now();
            let result = db::run(&pool, move |c| {
                bulk::import(c, dataset, format, &bytes, None, now)
            })
            .await;
            match result {
                Ok(r) => {
                    println!(
                        "imported {} rows: {} created, {} updated",
                        r.rows, r.created, r.updated
                    );
                    Ok(())
                }
                Err(AppError::Import { message, errors }) => {
                    for e in &errors {
                        eprintln!("row {}: {}", e.row, e.message);
                    }
                    Err(AppError::validation(message))
                }
                Err(e) => Err(e),
            }
        }
        Command::Export { dataset, format } => {
            let (pool, _) = open_database(&settings).await?;
            let bytes = db::run(&pool, move |c| bulk::export(c, dataset, format)).await?;
            use std::io::Write;
            std::io::stdout()
                .write_all(&bytes)
                .map_err(|e| AppError::Internal(format!("cannot write: {e}")))
        }
        Command::SeedDemo => {
            let (pool, _) = open_database(&settings).await?;
            let given = std::env::var("HOTLINE_ADMIN_PASSWORD")
                .ok()
                .filter(|p| !p.is_empty());
            let from_env = given.is_some();
            let now = Clock::system().now();
            if let Some(password) = db::run(&pool, move |c| {
                users::ensure_initial_admin(c, given.clone(), now)
            })
            .await?
            {
                let shown = if from_env {
                    "<HOTLINE_ADMIN_PASSWORD>".to_string()
                } else {
                    password
                };
                say(format!(
                    "created the account 'admin' with the password: {shown}"
                ));
            }
            let summary = seed_demo(&pool).await?;
            print_demo(&summary);
            Ok(())
        }
        Command::Load {
            database_url,
            fill,
            seconds,
            concurrency,
            again,
        } => {
            let scratch = std::env::temp_dir()
                .join(format!("hotline-load-{}", uuid::Uuid::new_v4().simple()));
            let mut settings = settings;
            settings.database.url = database_url
                .unwrap_or_else(|| format!("sqlite://{}", scratch.join("load.db").display()));
            settings.data_dir = scratch.join("data");
            let report = crate::bench::load::run(
                settings,
                crate::bench::load::LoadOptions {
                    fill,
                    seconds,
                    concurrency,
                    again,
                },
            )
            .await;
            let _ = std::fs::remove_dir_all(&scratch);
            print!("{}", report?);
            Ok(())
        }
        Command::Bench {
            database_url,
            regions,
            rules,
            previews,
            tickets,
            sweeper_closed,
            sweeper_open,
            stats_tickets,
        } => {
            let scratch = std::env::temp_dir()
                .join(format!("hotline-bench-{}", uuid::Uuid::new_v4().simple()));
            let url = database_url
                .unwrap_or_else(|| format!("sqlite://{}", scratch.join("bench.db").display()));
            let db_settings = crate::config::DatabaseSettings {
                url,
                ..settings.database.clone()
            };
            let options = crate::bench::BenchOptions {
                regions,
                rules,
                previews,
                tickets,
                sweeper_closed,
                sweeper_open,
                stats_tickets,
            };
            let report = actix_web::web::block(move || {
                let pool = db::build_pool(&db_settings)?;
                crate::bench::run(&pool, &options)
            })
            .await
            .map_err(|_| AppError::Internal("benchmark was cancelled".into()))?;
            let _ = std::fs::remove_dir_all(&scratch);
            print!("{}", report?);
            Ok(())
        }
    }
}

async fn seed_demo(pool: &db::Pool) -> Result<crate::demo::DemoSummary, AppError> {
    let now = Clock::system().now();
    db::run(pool, move |c| crate::demo::seed(c, now)).await
}

fn print_demo(summary: &crate::demo::DemoSummary) {
    for r in &summary.imports {
        say(format!(
            "demo {:?}: {} rows ({} created, {} updated)",
            r.dataset, r.rows, r.created, r.updated
        ));
    }
    say("demo accounts:");
    for u in &summary.users {
        let roles: Vec<&str> = u.roles.iter().map(|r| r.as_str()).collect();
        let password = u
            .password
            .clone()
            .unwrap_or_else(|| "(exists; password unchanged)".into());
        say(format!(
            "  {:<12} {:<18} {:<20} password: {password}",
            u.username,
            roles.join(","),
            u.department.as_deref().unwrap_or("-")
        ));
    }
}

async fn serve(settings: Settings, demo: bool) -> Result<(), AppError> {
    let bind = settings.server.bind.clone();
    let backend = settings.backend();
    let app = Application::build(settings, Clock::system()).await?;
    let state = app.state();
    let base = format!("http://{}", display_addr(&bind, app.port()));
    let given = std::env::var("HOTLINE_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let from_env = given.is_some();
    let now = state.clock.now();
    let created = db::run(&state.pool, move |c| {
        users::ensure_initial_admin(c, given.clone(), now)
    })
    .await?;
    if demo {
        print_demo(&seed_demo(&state.pool).await?);
    }
    say(format!(
        "hotline is listening on {base} ({backend:?}); API docs at {base}/docs"
    ));
    say(format!(
        "database: {}",
        crate::config::redact_url(&state.settings.database.url)
    ));
    match created {
        Some(password) => {
            let shown = if from_env { "<HOTLINE_ADMIN_PASSWORD>".to_string() } else { password };
            say(format!("First start: created the account 'admin' with the password: {shown}"));
            say("(shown only once; change it with POST /api/v1/me/password)");
            say("Log in:");
            say(format!(
                "  curl -s -X POST {base}/api/v1/auth/login -H 'Content-Type: application/json' \
                 -d '{{\"username\":\"admin\",\"password\":\"{shown}\"}}'"
            ));
        }
        None => say(format!(
            "Log in with POST {base}/api/v1/auth/login; add accounts with `hotline user add NAME --role ROLE`"
        )),
    }
    app.run_until_stopped()
        .await
        .map_err(|e| AppError::Internal(format!("server error: {e}")))
}

/// Prints a line of the start-up banner. A closed stdout (a supervisor that discards it) must not
/// bring the server down, so write errors are ignored.
fn say(line: impl AsRef<str>) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{}", line.as_ref());
}

fn display_addr(bind: &str, port: u16) -> String {
    let host = bind.rsplit_once(':').map(|(h, _)| h).unwrap_or("127.0.0.1");
    let host = if host == "0.0.0.0" || host == "[::]" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{port}")
}

fn read_password(from_stdin: bool) -> Result<(String, bool), AppError> {
    if !from_stdin {
        return Ok((password::generate(), true));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| AppError::validation(format!("cannot read the password from stdin: {e}")))?;
    Ok((line.trim_end_matches(['\r', '\n']).to_string(), false))
}

fn user_command(conn: &mut DbConnection, cmd: UserCommand) -> Result<(), AppError> {
    let now = Clock::system().now();
    match cmd {
        UserCommand::Add {
            username,
            roles,
            display_name,
            email,
            department,
            password_stdin,
        } => {
            let (password, generated) = read_password(password_stdin)?;
            let department_id = match department {
                Some(code) => Some(DepartmentId(
                    crate::org::find_by_code(conn, &code)?
                        .ok_or_else(|| {
                            AppError::NotFound(format!("no department with code '{code}'"))
                        })?
                        .id,
                )),
                None => None,
            };
            let user = users::create(
                conn,
                users::NewUser {
                    username,
                    display_name,
                    email,
                    password: password.clone(),
                    roles,
                    department_id,
                },
                now,
            )?;
            println!("created user {} ({})", user.username, user.id);
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::List => {
            let mut params = PageParams {
                limit: Some(crate::pagination::MAX_LIMIT),
                cursor: None,
            };
            println!("{:<38} {:<24} {:<8} roles", "id", "username", "active");
            loop {
                let page = users::list(conn, &users::UserFilter::default(), &params.validate()?)?;
                for u in &page.items {
                    let roles: Vec<&str> = u.roles.iter().map(|r| r.as_str()).collect();
                    println!(
                        "{:<38} {:<24} {:<8} {}",
                        u.id,
                        u.username,
                        u.active,
                        roles.join(",")
                    );
                }
                match page.next_cursor {
                    Some(c) => params.cursor = Some(c),
                    None => break,
                }
            }
        }
        UserCommand::Disable { username } => {
            let id = users::id_by_username(conn, &username)?;
            users::update(
                conn,
                &id,
                users::UserChanges {
                    active: Some(false),
                    ..Default::default()
                },
                now,
            )?;
            println!("disabled {username}; its sessions are ended");
        }
        UserCommand::Enable { username } => {
            let id = users::id_by_username(conn, &username)?;
            users::update(
                conn,
                &id,
                users::UserChanges {
                    active: Some(true),
                    ..Default::default()
                },
                now,
            )?;
            println!("enabled {username}");
        }
        UserCommand::SetPassword {
            username,
            password_stdin,
        } => {
            let (password, generated) = read_password(password_stdin)?;
            let id = users::id_by_username(conn, &username)?;
            users::set_password(conn, &id, &password, now)?;
            println!("password of {username} changed; its sessions are ended");
            if generated {
                println!("password: {password}");
            }
        }
    }
    Ok(())
}

fn api_client_command(conn: &mut DbConnection, cmd: ApiClientCommand) -> Result<(), AppError> {
    let now = Clock::system().now();
    match cmd {
        ApiClientCommand::Add { name, scopes } => {
            let created =
                api_clients::create(conn, api_clients::NewApiClient { name, scopes }, None, now)?;
            println!(
                "created API client {} ({})",
                created.client.name, created.client.id
            );
            println!("api key (shown only once): {}", created.api_key);
        }
        ApiClientCommand::List => {
            let mut params = PageParams {
                limit: Some(crate::pagination::MAX_LIMIT),
                cursor: None,
            };
            println!("{:<38} {:<24} {:<8} scopes", "id", "name", "active");
            loop {
                let page = api_clients::list(conn, &params.validate()?)?;
                for c in &page.items {
                    let scopes: Vec<&str> = c.scopes.iter().map(|s| s.as_str()).collect();
                    println!(
                        "{:<38} {:<24} {:<8} {}",
                        c.id,
                        c.name,
                        c.active,
                        scopes.join(" ")
                    );
                }
                match page.next_cursor {
                    Some(c) => params.cursor = Some(c),
                    None => break,
                }
            }
        }
        ApiClientCommand::Disable { name } => {
            let id = api_clients::id_by_name(conn, &name)?;
            api_clients::set_active(conn, &id, false)?;
            println!("disabled API client {name}");
        }
    }
    Ok(())
}

/// Opens (and migrates) the database a command works on, saying which one on standard error
/// (standard output stays clean for `export`).
async fn open_database(settings: &Settings) -> Result<(db::Pool, Vec<String>), AppError> {
    eprintln!(
        "database: {}",
        crate::config::redact_url(&settings.database.url)
    );
    prepare_database(settings).await
}
