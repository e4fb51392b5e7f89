//! mlops's own lock around a ref update, beside git's `<ref>.lock`.
//!
//! git's lock file holds the new value of the ref while it is written and
//! says nothing about who holds it, so a writer killed between taking it and
//! renaming it leaves every later writer of that ref stuck until someone
//! deletes the file by hand. mlops therefore takes an OS lock (`flock`) on a
//! file under `.git/mlops/locks/` first — the kernel releases it when its
//! holder dies, so it can never go stale — and records in that file which ref
//! it is swapping, with its pid, host and start time. The next holder reads
//! the record: a holder that died mid-swap on this host left git's lock
//! behind, which is taken over at once with a warning; one on another host
//! (a shared file system) cannot be checked, so it is named with a hint.
//!
//! Refs share 256 lock files by a hash of their name: a swap holds the lock
//! for well under a millisecond, so unrelated refs rarely meet, and a
//! repository with 100,000 runs does not get 100,000 lock files.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::context;
use crate::error::{Error, Result};

/// How long a writer waits for another mlops writer's swap (which takes
/// milliseconds) before it says who holds the lock.
const WAIT: Duration = Duration::from_secs(10);

/// A git `<ref>.lock` older than this, with no mlops writer behind it, is a
/// git process that stopped: named with a hint rather than waited out.
const STALE_GIT_LOCK: Duration = Duration::from_secs(10);

/// Who held (or holds) a lock file, as its holder recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub refname: String,
    pub pid: u32,
    pub host: String,
    pub since: String,
}

impl Owner {
    fn parse(text: &str) -> Option<Owner> {
        let mut lines = text.lines();
        if lines.next()? != "state swapping" {
            return None;
        }
        let mut field = |key: &str| -> Option<String> {
            lines
                .next()?
                .strip_prefix(key)?
                .strip_prefix(' ')
                .map(str::to_string)
        };
        Some(Owner {
            refname: field("ref")?,
            pid: field("pid")?.parse().ok()?,
            host: field("host")?,
            since: field("since")?,
        })
    }

    fn describe(&self) -> String {
        format!(
            "mlops pid {} on host `{}` (since {})",
            self.pid, self.host, self.since
        )
    }
}

/// The OS lock of one stripe of refs, held until dropped.
pub struct SwapLock {
    file: File,
    /// The holder before us, if it died while swapping.
    interrupted: Option<Owner>,
}

fn stripe(refname: &str) -> String {
    format!("{:02x}", Sha256::digest(refname.as_bytes())[0])
}

pub fn lock_dir(common_dir: &Path) -> PathBuf {
    common_dir.join("mlops").join("locks")
}

impl SwapLock {
    pub fn acquire(common_dir: &Path, refname: &str) -> Result<SwapLock> {
        let dir = lock_dir(common_dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create `{}`", dir.display()), e))?;
        let path = dir.join(stripe(refname));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(format!("cannot open `{}`", path.display()), e))?;
        let deadline = Instant::now() + WAIT;
        let mut pause = 1u64;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(pause));
                    pause = (pause * 2).min(20);
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    let holder = read_owner(&mut file)
                        .map(|o| o.describe())
                        .unwrap_or_else(|| "another mlops process".into());
                    return Err(Error::invalid_with_hint(
                        format!("`{refname}` has been locked by {holder} for over 10 s"),
                        "that process is stuck or stopped: end it, then run the command again",
                    ));
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(Error::io(format!("cannot lock `{}`", path.display()), e))
                }
            }
        }
        let interrupted = read_owner(&mut file);
        Ok(SwapLock { file, interrupted })
    }

    /// Records that this process is about to hold git's lock of `refname`.
    pub fn mark_swapping(&mut self, refname: &str) -> Result<()> {
        let text = format!(
            "state swapping\nref {refname}\npid {}\nhost {}\nsince {}\n",
            std::process::id(),
            hostname(),
            context::now_timestamp()
        );
        self.write(&text)
    }

    /// Records that git's lock was released (renamed into place or removed).
    pub fn mark_idle(&mut self) -> Result<()> {
        self.write("state idle\n")
    }

    fn write(&mut self, text: &str) -> Result<()> {
        let io = |e| Error::io("cannot write the mlops lock file", e);
        self.file.set_len(0).map_err(io)?;
        self.file.rewind().map_err(io)?;
        self.file.write_all(text.as_bytes()).map_err(io)
    }
}

fn read_owner(file: &mut File) -> Option<Owner> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    Owner::parse(&text)
}

/// Whether git's lock of `refname` is held by someone alive (retry later).
/// A lock left by an mlops writer that died is removed first (with a
/// warning); one that cannot be explained is an error with a hint.
pub fn git_lock_held(common_dir: &Path, refname: &str, guard: &mut SwapLock) -> Result<bool> {
    if let Some(dead) = guard.interrupted.take() {
        let left = common_dir.join(format!("{}.lock", dead.refname));
        if left.exists() {
            if dead.host != hostname() {
                return Err(Error::invalid_with_hint(
                    format!(
                        "`{}` was left by {}, which this host cannot check",
                        left.display(),
                        dead.describe()
                    ),
                    "if that process is gone, delete the file and run the command again",
                ));
            }
            if !alive(dead.pid) {
                std::fs::remove_file(&left).or_else(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => Ok(()),
                    _ => Err(Error::io(format!("cannot remove `{}`", left.display()), e)),
                })?;
                crate::term::warn(&format!(
                    "took over the lock of `{}` left by {}, which is no longer running",
                    dead.refname,
                    dead.describe()
                ));
            }
        }
    }
    let lock = common_dir.join(format!("{refname}.lock"));
    let age = match std::fs::metadata(&lock).and_then(|m| m.modified()) {
        Ok(t) => t.elapsed().unwrap_or_default(),
        Err(_) => return Ok(false),
    };
    if age > STALE_GIT_LOCK {
        return Err(Error::invalid_with_hint(
            format!(
                "`{}` is left over from a git process that stopped",
                lock.display()
            ),
            "if no git process is running, delete that file",
        ));
    }
    Ok(true)
}

fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    // SAFETY: kill(2) with signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname(2) writes at most `len` bytes into our buffer.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_round_trips_and_idle_is_no_owner() {
        let text = "state swapping\nref refs/mlops/models/m\npid 42\nhost h\nsince t\n";
        let o = Owner::parse(text).unwrap();
        assert_eq!(o.pid, 42);
        assert_eq!(o.refname, "refs/mlops/models/m");
        assert!(Owner::parse("state idle\n").is_none());
        assert!(Owner::parse("").is_none());
    }

    #[test]
    fn a_second_holder_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = SwapLock::acquire(dir.path(), "refs/mlops/models/m").unwrap();
        let path = dir.path().to_path_buf();
        let t = std::thread::spawn(move || {
            let start = Instant::now();
            let _second = SwapLock::acquire(&path, "refs/mlops/models/m").unwrap();
            start.elapsed()
        });
        std::thread::sleep(Duration::from_millis(100));
        drop(first);
        assert!(t.join().unwrap() >= Duration::from_millis(90));
    }
}
