fn main() {
    std::process::exit(hotline::cli::main());
}
