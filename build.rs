//! Links the `mlops` executable as non-PIE on Linux. The binary is large
//! (polars, gix), and as a position-independent executable it carries ~140,000
//! relative relocations that the loader applies on every start — about 2 ms of
//! a command whose whole budget is a few milliseconds (an append must cost
//! under 5 ms). Only our own executables' link step changes; dependencies are
//! compiled as before.
//!
//! It also rebuilds the crate when `.mlops-template/` changes (see below).

fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
    // `include_dir!` embeds these files, but a proc macro cannot tell cargo
    // about them on stable: without this, editing a template alone would
    // leave the old copy in the binary.
    println!("cargo:rerun-if-changed=.mlops-template");
}
