//! Running the training command: no shell (unless the user wrote one), output
//! streamed through unchanged (inherited stdio), and signals handled so that a
//! Ctrl-C or a `kill` stops the child and still records the run as `killed`.
//!
//! A Ctrl-C at the terminal reaches the whole foreground process group, child
//! included, so mlops must not forward it a second time (a second SIGINT
//! interrupts Python's clean-up). A signal *sent* to mlops alone (`kill`, a
//! scheduler's SIGTERM) never reaches the child, so that one is forwarded.
//! The signal's origin (kernel/terminal vs. another process) tells them apart.

use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::iterator::SignalsInfo;
use signal_hook::low_level::siginfo::Cause;

use crate::error::{Error, Result};

pub struct Finished {
    pub status: ExitStatus,
    /// The signal mlops itself received while the child ran, if any.
    pub received: Option<i32>,
}

pub fn run(argv: &[String], dir: &Path, env: &[(&str, String)]) -> Result<Finished> {
    let (program, args) = argv.split_first().ok_or_else(|| {
        Error::invalid_with_hint(
            "no command to track",
            "write it after `--`: `mlops track -- python train.py`",
        )
    })?;
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    // Register before spawning, so no signal slips between spawn and handler.
    let mut signals = SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| Error::io("cannot install signal handlers", e))?;
    let handle = signals.handle();
    let mut child = cmd.spawn().map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "`{program}` is not on PATH; to use shell syntax run `mlops track -- sh -c '...'`"
            )
        } else {
            "check the command and its permissions".to_string()
        };
        Error::Invalid {
            message: format!("cannot start `{program}`: {e}"),
            hint: Some(hint),
        }
    })?;
    let pid = child.id() as libc::pid_t;
    let received = Arc::new(AtomicI32::new(0));
    let seen = Arc::clone(&received);
    // Set once the child has exited, under the lock the forwarder signals
    // under: the child is reaped only after that, so a signal can never
    // reach another process that was given its pid.
    let exited = Arc::new(Mutex::new(false));
    let gate = Arc::clone(&exited);
    // Tests only: the forwarder gives up its end of signal-hook's wake-up
    // pipe before `close` writes to it, the interleaving that once killed a
    // finished `mlops track` with SIGPIPE before its run was recorded.
    let drop_pipe_early = crate::context::test_hook("track-close-race").is_some();
    let forwarder = std::thread::spawn(move || {
        if drop_pipe_early {
            drop(signals);
            return;
        }
        for info in &mut signals {
            seen.store(info.signal, Ordering::SeqCst);
            let from_terminal = matches!(info.cause, Cause::Kernel);
            let exited = gate.lock().unwrap_or_else(|p| p.into_inner());
            if !from_terminal && !*exited {
                // SAFETY: kill(2) with the pid of our child, not yet reaped.
                unsafe {
                    libc::kill(pid, info.signal);
                }
            }
        }
    });
    wait_without_reaping(pid).map_err(|e| Error::io(format!("cannot wait for `{program}`"), e))?;
    *exited.lock().unwrap_or_else(|p| p.into_inner()) = true;
    let status = child
        .wait()
        .map_err(|e| Error::io(format!("cannot wait for `{program}`"), e))?;
    let forwarder = if drop_pipe_early {
        // Make the interleaving certain: the reader is gone before `close`.
        let _ = forwarder.join();
        None
    } else {
        Some(forwarder)
    };
    handle.close();
    if let Some(f) = forwarder {
        let _ = f.join();
    }
    let sig = received.load(Ordering::SeqCst);
    Ok(Finished {
        status,
        received: (sig != 0).then_some(sig),
    })
}

/// Blocks until the child has exited but leaves it a zombie (`WNOWAIT`), so
/// its pid stays reserved until `Child::wait` reaps it.
fn wait_without_reaping(pid: libc::pid_t) -> std::io::Result<()> {
    loop {
        // SAFETY: waitid(2) on our own child with a zeroed siginfo to fill.
        let rc = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}
