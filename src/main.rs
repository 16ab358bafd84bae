/// mimalloc returns freed memory to the system: with glibc's allocator, the 19 MiB that each
/// argon2 check takes stayed in per-thread arenas (1.5 GB after a burst of logins).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option (`mi_option_purge_delay`, the 16th in mimalloc.h of both v3,
/// which the crate builds, and v2; libmimalloc-sys names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // freed memory is returned to the OS at once, not after mimalloc's default delay (1 s in
    // its v3): a delayed purge runs only when the freeing thread allocates again, so what an
    // idle thread freed (an argon2 check's 19 MiB) stayed resident — 20 MiB less peak RSS
    // under load, no throughput lost beyond the noise (docs/benchmarks.md, "The fifth
    // round"). An operator's MIMALLOC_PURGE_DELAY (or its older name MIMALLOC_RESET_DELAY)
    // still wins.
    let chosen = ["MIMALLOC_PURGE_DELAY", "MIMALLOC_RESET_DELAY"]
        .iter()
        .any(|name| std::env::var_os(name).is_some());
    if !chosen {
        // SAFETY: sets a plain integer option; no allocation depends on its old value
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
    // before any thread exists (sqlite3_config is process-wide and not thread-safe)
    hotline::db::configure_sqlite();
    hotline::db::init_tls();
    std::process::exit(hotline::cli::main());
}
