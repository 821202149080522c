//! Host bindings of the function world, generated from `functions/wit/` (the one WIT
//! world, shared with the guest SDK).
//!
//! Owns nothing but the generated code. Must not know how imports are implemented
//! (`host.rs`) or how functions are run (`mod.rs`).

wasmtime::component::bindgen!({
    path: "../functions/wit",
    world: "function",
});
