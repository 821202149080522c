//! The `eddy` binary; everything lives in the library so tests can drive it.

// mimalloc: the request path allocates many small, short-lived objects (parsed JSON,
// items, keys); glibc's malloc spent ~15% of GetItem CPU time in a profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    eddy::cli::main()
}
