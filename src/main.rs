//! The `mlops` binary: runs the CLI, prints an error chain once, and maps the
//! outcome to an exit code (0 success, 1 a check said no, 2 bad input or
//! environment).

use std::process::ExitCode;

/// glibc's allocator grew the heap to 460 MB while `verify` read 20,000
/// loose objects with 23 MB live: zlib's aligned per-object state fragments
/// it. mimalloc keeps it at the live size, and is faster on this workload.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // SIGPIPE stays ignored (Rust's default): a closed stdout is handled
    // where output is written (`mlops::term::write_stdout`), and a signal can
    // no longer kill the process between a finished command and its record.
    match mlops::cli::run() {
        Ok(code) => code,
        Err(err) => {
            mlops::cli::print_error(&err);
            // A contract the data breaks is a check that said no, not bad input.
            match err.downcast_ref::<mlops::Error>() {
                Some(mlops::Error::ContractViolated { .. }) => ExitCode::from(1),
                _ => ExitCode::from(2),
            }
        }
    }
}
