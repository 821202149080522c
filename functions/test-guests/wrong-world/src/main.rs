//! Test guest: a valid component of the wrong world (a WASI command with `main`, not an
//! Eddy function). Deploying it must fail with an error that names the missing export.

fn main() {
    println!("I am a command, not an Eddy function");
}
