//! The `eddy` binary; everything lives in the library so tests can drive it.

fn main() -> std::process::ExitCode {
    eddy::cli::main()
}
