//! The `mlops` binary: runs the CLI, prints an error chain once, and maps the
//! outcome to an exit code (0 success, 1 a check said no, 2 bad input or
//! environment).

use std::process::ExitCode;

fn main() -> ExitCode {
    match mlops::cli::run() {
        Ok(code) => code,
        Err(err) => {
            mlops::cli::print_error(&err);
            ExitCode::from(2)
        }
    }
}
