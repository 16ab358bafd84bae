/// mimalloc returns freed memory to the system: with glibc's allocator, the 19 MiB that each
/// argon2 check takes stayed in per-thread arenas (1.5 GB after a burst of logins).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // before any thread exists (sqlite3_config is process-wide and not thread-safe)
    hotline::db::configure_sqlite();
    hotline::db::init_tls();
    std::process::exit(hotline::cli::main());
}
