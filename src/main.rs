/// mimalloc returns freed memory to the system: with glibc's allocator, the 19 MiB that each
/// argon2 check takes stayed in per-thread arenas (1.5 GB after a burst of logins).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option (`mi_option_purge_delay`, the 16th in mimalloc.h of both v3,
/// which the crate builds, and v2; libmimalloc-sys names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // freed memory is returned to the OS at once, not "in 10 ms": a delayed purge runs only
    // when the freeing thread allocates again, so what an idle blocking thread freed (an argon2
    // check's 19 MiB) stayed resident — 16 MiB less peak RSS under load (docs/benchmarks.md,
    // "The fifth round"); an operator's MIMALLOC_PURGE_DELAY still wins
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets a plain integer option; no allocation depends on its old value
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
    // before any thread exists (sqlite3_config is process-wide and not thread-safe)
    hotline::db::configure_sqlite();
    hotline::db::init_tls();
    std::process::exit(hotline::cli::main());
}
