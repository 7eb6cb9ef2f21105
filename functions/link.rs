//! Build script shared by the Lambda functions (and the benchmark's empty
//! function, so the comparison stays fair): link them as position-dependent
//! executables.
//!
//! A position-independent executable carries a relocation for every pointer
//! in its static data (the SDK's vtables, time zone tables…): 50,000 of them
//! in `process`, 1.2 MB of the binary, which the loader applied page by page
//! at every cold start: 28% of the samples in a profile of its start. Linked
//! at a fixed address, the linker applies them once. What is given up is
//! ASLR for the executable's own image, as with Go's default builds; the
//! code is memory-safe Rust, and each function runs alone in its Firecracker
//! micro-VM. Only the binaries are linked this way: proc macros and build
//! scripts are untouched.
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
