//! The `mlops` binary: runs the CLI, prints an error chain once, and maps the
//! outcome to an exit code (0 success, 1 a check said no, 2 bad input or
//! environment).

use std::process::ExitCode;

fn main() -> ExitCode {
    // Like other Unix filters (`mlops runs list | head`): a closed pipe ends
    // the process quietly instead of panicking on the next `println!`.
    #[cfg(unix)]
    // SAFETY: restoring a signal's default disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    match mlops::cli::run() {
        Ok(code) => code,
        Err(err) => {
            mlops::cli::print_error(&err);
            ExitCode::from(2)
        }
    }
}
