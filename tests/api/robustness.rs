//! The storage layer under stress: killed PostgreSQL connections, and both migration trees
//! against each other and against `src/db/schema.rs`.

use std::collections::BTreeMap;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app, Backend, PgDatabase, TestApp};

/// `pg_terminate_backend` on every connection of the service's database, mid-load: requests
/// that were on a killed connection may fail once; a retry succeeds, and once the pool has
/// replaced its connections nothing fails at all.
#[actix_web::test]
#[cfg_attr(not(hotline_pg_tests), ignore = "HOTLINE_TEST_POSTGRES_URL is not set")]
async fn service_recovers_when_postgres_connections_are_killed() {
    let Some(app) = spawn_app(Backend::Postgres).await else {
        return;
    };
    let token = app.admin_token().await;
    let kill = |app: &TestApp| {
        let (admin_url, name) = app.postgres().expect("postgres");
        let mut conn = PgConnection::establish(admin_url).expect("admin connection");
        conn.batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ))
        .expect("terminate");
    };
    let app_ref = &app;
    let me = |_: &TestApp| app_ref.get("/api/v1/me", Some(&token));
    for _ in 0..3 {
        let batch = (0..16).map(|_| me(&app));
        let first = join_all(batch).await;
        kill(&app);
        for res in first {
            if res.status().is_server_error() {
                assert_eq!(me(&app).await.status(), StatusCode::OK, "a retry succeeds");
            } else {
                assert_eq!(res.status(), StatusCode::OK);
            }
        }
    }
    kill(&app);
    let after = join_all((0..32).map(|_| me(&app))).await;
    let statuses: Vec<StatusCode> = after.iter().map(|r| r.status()).collect();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    // a write whose connections were all killed while idle: taken in once, not failed, not twice
    let org = crate::tickets::org(&app).await;
    // the operator's session is cached now: each intake's first statement is its BEGIN
    assert_eq!(
        app.get("/api/v1/me", Some(&org.operator)).await.status(),
        StatusCode::OK
    );
    kill(&app);
    let created = join_all((0..4).map(|i| {
        let mut body = crate::tickets::hotline_call(&org.category);
        body["title"] = json!(format!("杀连接之后的来电 {i}"));
        app.post("/api/v1/tickets", Some(&org.operator), body)
    }))
    .await;
    for res in created {
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let found = app
        .get(
            "/api/v1/tickets?q=杀连接之后&limit=50",
            Some(&org.supervisor),
        )
        .await;
    let found: serde_json::Value = found.json().await.expect("list");
    assert_eq!(found["items"].as_array().map(Vec::len), Some(4), "{found}");
}

type Columns = BTreeMap<String, BTreeMap<String, bool>>; // table -> column -> nullable

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Bool)]
    nullable: bool,
}

fn collect(rows: Vec<ColumnRow>) -> Columns {
    let mut out = Columns::new();
    for r in rows {
        out.entry(r.table_name)
            .or_default()
            .insert(r.column_name, r.nullable);
    }
    out
}

/// The tables and columns `src/db/schema.rs` declares, with their nullability.
fn declared() -> Columns {
    let text = include_str!("../../src/db/schema.rs");
    let mut out = Columns::new();
    let mut table: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some((name, _)) = line.split_once(" (").filter(|_| line.ends_with('{')) {
            table = Some(name.trim().to_string());
        } else if line == "}" {
            table = None;
        } else if let (Some(t), Some((column, ty))) = (&table, line.split_once(" -> ")) {
            out.entry(t.clone())
                .or_default()
                .insert(column.trim().to_string(), ty.starts_with("Nullable<"));
        }
    }
    out
}

fn sqlite_columns() -> Columns {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("schema.db");
    let mut conn = hotline::db::DbConnection::Sqlite(
        SqliteConnection::establish(&path.to_string_lossy()).expect("sqlite"),
    );
    hotline::db::run_migrations(&mut conn).expect("migrate sqlite");
    let rows: Vec<ColumnRow> = diesel::sql_query(
        "SELECT m.name AS table_name, p.name AS column_name, (p.\"notnull\" = 0 AND p.pk = 0) AS nullable \
         FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations' \
         AND m.name NOT LIKE 'ticket_search%'",
    )
    .load(&mut conn)
    .expect("sqlite columns");
    collect(rows)
}

fn postgres_columns(url: &str) -> Columns {
    let mut conn = hotline::db::DbConnection::Pg(PgConnection::establish(url).expect("postgres"));
    hotline::db::run_migrations(&mut conn).expect("migrate postgres");
    let rows: Vec<ColumnRow> = diesel::sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, \
         (is_nullable = 'YES') AS nullable FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations' \
         AND table_name NOT LIKE 'ticket_search%'",
    )
    .load(&mut conn)
    .expect("postgres columns");
    collect(rows)
}

// The full-text index (`ticket_search*`) is left out: it differs by backend on purpose (a GIN
// tsvector table on PostgreSQL, FTS5 tables on SQLite) and is reached only by `tickets::search`'s
// own SQL, never through schema.rs.
#[test]
fn sqlite_migrations_match_schema_rs() {
    assert_eq!(sqlite_columns(), declared());
}

#[test]
#[cfg_attr(not(hotline_pg_tests), ignore = "HOTLINE_TEST_POSTGRES_URL is not set")]
fn postgres_migrations_match_schema_rs_and_sqlite() {
    let Some(db) = PgDatabase::create() else {
        return;
    };
    let pg = postgres_columns(&db.url);
    assert_eq!(pg, declared());
    assert_eq!(pg, sqlite_columns());
}

/// Ticket rows carry typed values: a stored status no variant has is an error when read (the
/// answer is a 500 with the JSON body and the details in the log), never silently a default.
#[actix_web::test]
async fn a_bad_stored_value_is_an_error_not_a_guess() {
    let app = spawn_app(Backend::Sqlite).await.expect("app");
    let o = crate::tickets::org(&app).await;
    let t =
        crate::tickets::new_ticket(&app, &o.operator, crate::tickets::hotline_call(&o.category))
            .await;
    let id = t["id"].as_str().expect("id").to_string();
    let res = app
        .get(&format!("/api/v1/tickets/{id}"), Some(&o.operator))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let corrupt = id.clone();
    hotline::db::run(&app.state.pool, move |c| {
        diesel::sql_query(format!(
            "UPDATE tickets SET status = 'limbo' WHERE id = '{corrupt}'"
        ))
        .execute(c)?;
        Ok(())
    })
    .await
    .expect("corrupt the row");
    let res = app
        .get(&format!("/api/v1/tickets/{id}"), Some(&o.operator))
        .await;
    crate::helpers::assert_error(res, StatusCode::INTERNAL_SERVER_ERROR, "internal").await;
}

/// "Not found" alone becomes a 422 naming the field; any other failure of the database (here:
/// a database without its tables) stays an internal error, never a validation message.
#[test]
fn only_not_found_becomes_a_field_error() {
    use hotline::error::AppError;
    use hotline::ids::{CategoryId, DepartmentId, RegionId};
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("empty.db");
    let mut conn = hotline::db::DbConnection::Sqlite(
        SqliteConnection::establish(&path.to_string_lossy()).expect("sqlite"),
    );
    let id = uuid::Uuid::new_v4().to_string();
    let outcomes = [
        hotline::org::referenced(&mut conn, "department_id", &DepartmentId(id.clone())).err(),
        hotline::catalogue::referenced(&mut conn, "category_id", &CategoryId(id.clone())).err(),
        hotline::regions::referenced(&mut conn, "region_id", &RegionId(id.clone())).err(),
    ];
    for outcome in outcomes {
        assert!(
            matches!(outcome, Some(AppError::Internal(_))),
            "{outcome:?}"
        );
    }
    // with the tables, a missing row is the field's fault
    hotline::db::run_migrations(&mut conn).expect("migrate");
    let missing = hotline::org::referenced(&mut conn, "department_id", &DepartmentId(id));
    assert!(
        matches!(missing, Err(AppError::Validation { .. })),
        "{missing:?}"
    );
}

/// A SQLite transaction that drops a large index and builds it again succeeds on the service's
/// connections, as a migration does (`db::run_migrations`: one exclusive transaction). With
/// SQLite's statement journal spilling to a file past 4 MiB (the process-wide setting of
/// `db::configure_sqlite` until 2026-12-06), SQLite 3.46 answered this with SQLITE_FULL ("database
/// or disk is full") once the index passed a few MiB: a large file could not be migrated
/// (docs/benchmarks.md, "The ninth round").
#[actix_web::test]
async fn a_large_index_is_rebuilt_inside_a_transaction() {
    let app = spawn_app(Backend::Sqlite).await.expect("app");
    hotline::db::run(&app.state.pool, |c| {
        c.batch_execute(
            "CREATE TABLE big (id TEXT PRIMARY KEY, a TEXT, b TEXT); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) \
             INSERT INTO big SELECT printf('%036d', i), printf('dept-%08d', i % 50), 'x' FROM n; \
             CREATE INDEX big_a ON big (a, b, id);",
        )?;
        Ok(())
    })
    .await
    .expect("a large table");
    hotline::db::run(&app.state.pool, |c| {
        c.batch_execute(
            "BEGIN EXCLUSIVE; DROP INDEX big_a; \
             CREATE INDEX big_a ON big (a, b, id) WHERE a IS NOT NULL; COMMIT;",
        )?;
        Ok(())
    })
    .await
    .expect("the index dropped and built again in one transaction");
}
