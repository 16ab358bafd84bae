//! Marks the PostgreSQL runs of the integration tests as ignored (reported in the summary line)
//! when `HOTLINE_TEST_POSTGRES_URL` is not set, instead of letting them pass as no-ops.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(hotline_pg_tests)");
    println!("cargo::rerun-if-env-changed=HOTLINE_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("HOTLINE_TEST_POSTGRES_URL").is_ok_and(|v| !v.trim().is_empty()) {
        println!("cargo::rustc-cfg=hotline_pg_tests");
    }
}
