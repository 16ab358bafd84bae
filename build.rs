//! Marks the PostgreSQL runs of the integration tests as ignored (reported in the summary line)
//! when `HOTLINE_TEST_POSTGRES_URL` is not set, instead of letting them pass as no-ops; and
//! rebuilds the crate when a migration is added.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(hotline_pg_tests)");
    println!("cargo::rerun-if-env-changed=HOTLINE_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-changed=build.rs");
    // the migrations are embedded (`embed_migrations!`): a new one must rebuild the crate, which
    // the line above would otherwise prevent (a build script that names what it watches turns
    // off cargo's default of watching the whole package)
    println!("cargo::rerun-if-changed=migrations");
    if std::env::var("HOTLINE_TEST_POSTGRES_URL").is_ok_and(|v| !v.trim().is_empty()) {
        println!("cargo::rustc-cfg=hotline_pg_tests");
    }
}
