//! Hashing is the whole cost of `data add` and `verify`, so it runs on every core
//! (rayon, one file per task: SHA-256 is sequential within a file) and streams each
//! file through one reused buffer per thread, so memory stays flat whatever the
//! file sizes. Files the stat cache vouches for are not opened at all. A file must
//! hold still while it is read, or its hash would describe no real state of it.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::manifest::{sha256_hex, FileEntry};
use super::scan::{describe, ScannedFile};
use super::statcache::{Stamp, StatCache};

/// Large enough that syscall and progress overhead vanish next to SHA-256 (~1.7
/// GB/s per core with SHA-NI); 128 KiB to 1 MiB measured the same on 4 × 256 MiB.
const BUF_LEN: usize = 1 << 20;

thread_local! {
    /// One buffer per rayon thread, kept for the thread's life: allocating 1 MiB per
    /// small file would cost more than hashing it.
    static BUF: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HashReport {
    /// One per scanned file, in the scan's order (sorted by path).
    pub entries: Vec<FileEntry>,
    pub hashed_files: usize,
    pub hashed_bytes: u64,
    pub cached_files: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("cannot read `{path}`: {reason}")]
    Read {
        path: String,
        reason: String,
        kind: io::ErrorKind,
    },
    #[error("`{path}` changed while it was being hashed")]
    Changed { path: String },
}

/// Hashes `files`, reusing `cache` where a file's stamp is unchanged and recording
/// every fresh hash in it.
///
/// `progress` is called with byte counts as they are read, from several threads;
/// the bytes of cached files are reported once, up front, so a progress bar whose
/// length is the sum of the scanned sizes ends full. On any error nothing is
/// recorded in the cache and no entries are returned.
pub fn hash_files(
    files: &[ScannedFile],
    cache: &mut StatCache,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<HashReport, HashError> {
    // (sha256, size) per file; a re-hashed file's size is the one its hash saw,
    // which can differ from the scan's if the file changed in between.
    let mut known: Vec<Option<(String, u64)>> = Vec::with_capacity(files.len());
    let mut cached_bytes = 0;
    for file in files {
        let hit = cache.get(&file.rel_path, &file.stamp);
        if hit.is_some() {
            cached_bytes += file.stamp.size;
        }
        known.push(hit.map(|sha| (sha.to_owned(), file.stamp.size)));
    }
    if cached_bytes > 0 {
        progress(cached_bytes);
    }

    let misses: Vec<usize> = (0..files.len()).filter(|&i| known[i].is_none()).collect();
    let fresh: Vec<(usize, Hashed)> = misses
        .par_iter()
        .map(|&i| hash_stable(&files[i], progress).map(|h| (i, h)))
        .collect::<Result<_, _>>()?;

    let mut report = HashReport {
        cached_files: files.len() - fresh.len(),
        hashed_files: fresh.len(),
        ..HashReport::default()
    };
    for (i, hashed) in fresh {
        report.hashed_bytes += hashed.size;
        cache.insert(
            files[i].rel_path.clone(),
            hashed.stamp,
            hashed.sha256.clone(),
        );
        known[i] = Some((hashed.sha256, hashed.size));
    }
    report.entries = files
        .iter()
        .zip(known)
        .map(|(file, known)| {
            let (sha256, size) = known.expect("every file is cached or hashed");
            FileEntry {
                path: file.rel_path.clone(),
                size,
                sha256,
                outside: file.outside.then_some(crate::outside::Outside::Symlink),
            }
        })
        .collect();
    Ok(report)
}

/// SHA-256 and length of one file, streamed; `sha256sum` gives the same hex.
pub fn sha256_file(path: &Path) -> io::Result<(String, u64)> {
    let hashed = stream(&mut File::open(path)?, u64::MAX, &|_| {})?;
    Ok(hashed.expect("no file is longer than u64::MAX bytes"))
}

struct Hashed {
    sha256: String,
    size: u64,
    stamp: Stamp,
}

/// Reads the file between two stamps; if they differ it was written to meanwhile,
/// so it is read once more, and a second change is an error rather than a hash of
/// something that never existed on disk. The first "before" stamp is the scan's,
/// which saves an `fstat` per file: 5 syscalls for a small file, not 6.
fn hash_stable(file: &ScannedFile, progress: &(dyn Fn(u64) + Sync)) -> Result<Hashed, HashError> {
    let read_error = |e: io::Error| HashError::Read {
        path: file.rel_path.clone(),
        reason: describe(&e),
        kind: e.kind(),
    };
    let mut before = file.stamp;
    for attempt in 0..2 {
        let mut handle = File::open(&file.abs_path).map_err(read_error)?;
        if attempt > 0 {
            before = Stamp::from_metadata(&handle.metadata().map_err(read_error)?);
        }
        let read = stream(&mut handle, before.size, progress).map_err(read_error)?;
        let after = Stamp::from_metadata(&handle.metadata().map_err(read_error)?);
        match read {
            Some((sha256, size)) if before == after && size == after.size => {
                return Ok(Hashed {
                    sha256,
                    size,
                    stamp: after,
                })
            }
            _ => {}
        }
    }
    Err(HashError::Changed {
        path: file.rel_path.clone(),
    })
}

/// `None` once more than `limit` bytes come out: a file being appended to would
/// otherwise keep the reader busy for as long as the writer runs.
fn stream(
    reader: &mut impl Read,
    limit: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> io::Result<Option<(String, u64)>> {
    // Taken out of the slot rather than borrowed, so a progress callback that
    // hashes on the same thread gets its own buffer instead of a panic.
    let mut buf = BUF.take();
    if buf.len() < BUF_LEN {
        buf = vec![0; BUF_LEN];
    }
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let result = loop {
        match reader.read(&mut buf) {
            Ok(0) => break Ok(Some((sha256_hex(&hasher.finalize().into()), total))),
            Ok(n) => {
                hasher.update(&buf[..n]);
                total += n as u64;
                progress(n as u64);
                if total > limit {
                    break Ok(None);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    BUF.set(buf);
    result
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Write;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::time::{Duration, SystemTime};

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn scanned(dir: &Path, rel: &str) -> ScannedFile {
        let abs_path = dir.join(rel);
        ScannedFile {
            rel_path: rel.to_string(),
            stamp: Stamp::from_metadata(&fs::metadata(&abs_path).unwrap()),
            abs_path,
            outside: false,
        }
    }

    fn write(dir: &Path, rel: &str, content: &[u8]) -> PathBuf {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
        path
    }

    /// A cache that trusts files written just now, as a later session would.
    fn trusting_cache(dir: &Path, entries: &[(&ScannedFile, &str)]) -> StatCache {
        let later = SystemTime::now() + Duration::from_secs(60);
        let mut cache = StatCache::empty_at(later);
        for (file, sha) in entries {
            cache.insert(file.rel_path.clone(), file.stamp, sha.to_string());
        }
        let path = dir.join("cache");
        cache.save(&path).unwrap();
        StatCache::load_at(&path, later)
    }

    fn lie() -> String {
        "f".repeat(64)
    }

    #[test]
    fn hashes_like_sha256sum_including_empty_and_large_files() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "abc", b"abc");
        write(dir.path(), "empty", b"");
        let big: Vec<u8> = (0..3 * BUF_LEN + 17).map(|i| (i % 251) as u8).collect();
        write(dir.path(), "big", &big);
        assert_eq!(
            sha256_file(&dir.path().join("abc")).unwrap(),
            (ABC.to_string(), 3)
        );
        assert_eq!(
            sha256_file(&dir.path().join("empty")).unwrap(),
            (EMPTY.to_string(), 0)
        );

        let files: Vec<_> = ["abc", "big", "empty"]
            .iter()
            .map(|r| scanned(dir.path(), r))
            .collect();
        let seen = AtomicU64::new(0);
        let mut cache = StatCache::empty();
        let report = hash_files(&files, &mut cache, &|n| {
            seen.fetch_add(n, Ordering::Relaxed);
        })
        .unwrap();
        let big_hash = hex::encode(Sha256::digest(&big));
        assert_eq!(
            report.entries,
            [
                FileEntry {
                    path: "abc".into(),
                    size: 3,
                    sha256: ABC.into(),
                    outside: None
                },
                FileEntry {
                    path: "big".into(),
                    size: big.len() as u64,
                    sha256: big_hash,
                    outside: None
                },
                FileEntry {
                    path: "empty".into(),
                    size: 0,
                    sha256: EMPTY.into(),
                    outside: None
                },
            ]
        );
        assert_eq!((report.hashed_files, report.cached_files), (3, 0));
        assert_eq!(report.hashed_bytes, big.len() as u64 + 3);
        assert_eq!(seen.into_inner(), report.hashed_bytes);
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn symlink_is_hashed_as_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = write(dir.path(), "real", b"abc");
        std::os::unix::fs::symlink(&target, dir.path().join("link")).unwrap();
        let report = hash_files(
            &[scanned(dir.path(), "link")],
            &mut StatCache::empty(),
            &|_| {},
        )
        .unwrap();
        assert_eq!(report.entries[0].sha256, ABC);
        assert_eq!(report.entries[0].path, "link");
    }

    /// The cache is trusted without reading: a planted wrong hash comes back.
    #[test]
    fn cache_hit_does_not_read_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a", b"abc");
        let file = scanned(dir.path(), "a");
        let mut cache = trusting_cache(dir.path(), &[(&file, &lie())]);
        let seen = AtomicU64::new(0);
        let report = hash_files(&[file], &mut cache, &|n| {
            seen.fetch_add(n, Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(report.entries[0].sha256, lie());
        assert_eq!(
            (
                report.hashed_files,
                report.cached_files,
                report.hashed_bytes
            ),
            (0, 1, 0)
        );
        assert_eq!(seen.into_inner(), 3, "cached bytes still count as progress");
    }

    /// Same planted hash, but saved by a session that began before the file's last
    /// change: that entry is racy, so the file is read again.
    #[test]
    fn racy_entry_is_rehashed() {
        let dir = tempfile::tempdir().unwrap();
        let cache_path = dir.path().join("cache");
        let mut cache = StatCache::empty_at(SystemTime::now() - Duration::from_secs(1));
        write(dir.path(), "a", b"abc");
        let file = scanned(dir.path(), "a");
        cache.insert("a".into(), file.stamp, lie());
        cache.save(&cache_path).unwrap();
        let mut cache = StatCache::load_at(&cache_path, SystemTime::now());
        let report = hash_files(&[file], &mut cache, &|_| {}).unwrap();
        assert_eq!(report.entries[0].sha256, ABC);
        assert_eq!(report.hashed_files, 1);
    }

    #[test]
    fn same_size_rewrite_with_mtime_restored_is_caught_by_ctime() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "a", b"abc");
        let before = scanned(dir.path(), "a");
        let mut cache = trusting_cache(dir.path(), &[(&before, ABC)]);
        // Past any timestamp tick, so the rewrite gets a new ctime.
        std::thread::sleep(Duration::from_millis(30));
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
        (&f).write_all(b"xyz").unwrap();
        f.set_modified(mtime).unwrap();
        drop(f);
        let after = scanned(dir.path(), "a");
        assert_eq!(
            (after.stamp.mtime_ns, after.stamp.size),
            (before.stamp.mtime_ns, 3)
        );
        assert_ne!(after.stamp.ctime_ns, before.stamp.ctime_ns);
        let report = hash_files(&[after], &mut cache, &|_| {}).unwrap();
        assert_eq!(
            report.entries[0].sha256,
            hex::encode(Sha256::digest(b"xyz"))
        );
    }

    #[test]
    fn replaced_file_with_mtime_restored_is_caught_by_inode() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "a", b"abc");
        let before = scanned(dir.path(), "a");
        let mut cache = trusting_cache(dir.path(), &[(&before, ABC)]);
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        let tmp = write(dir.path(), "a.tmp", b"xyz");
        // Keep the old inode alive so the new file cannot reuse its number.
        let _old = fs::File::open(&path).unwrap();
        fs::File::options()
            .write(true)
            .open(&tmp)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        fs::rename(&tmp, &path).unwrap();
        let after = scanned(dir.path(), "a");
        assert_ne!(after.stamp.ino, before.stamp.ino);
        let report = hash_files(&[after], &mut cache, &|_| {}).unwrap();
        assert_eq!(
            report.entries[0].sha256,
            hex::encode(Sha256::digest(b"xyz"))
        );
    }

    #[test]
    fn unreadable_file_is_an_error_and_nothing_is_recorded() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "data/ok", b"abc");
        let locked = write(dir.path(), "data/locked", b"secret");
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        if fs::File::open(&locked).is_ok() {
            eprintln!("running with privileges that ignore permissions; skipping");
            return;
        }
        let files = [
            scanned(dir.path(), "data/locked"),
            scanned(dir.path(), "data/ok"),
        ];
        let mut cache = StatCache::empty();
        let err = hash_files(&files, &mut cache, &|_| {}).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read `data/locked`: permission denied"
        );
        assert!(cache.is_empty() && !cache.is_dirty());
    }

    #[test]
    fn file_growing_once_while_hashed_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "a", b"ab");
        let calls = AtomicUsize::new(0);
        let grow = || {
            let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
            f.write_all(b"c").unwrap();
        };
        let report = hash_files(
            &[scanned(dir.path(), "a")],
            &mut StatCache::empty(),
            &|_| {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    grow();
                }
            },
        )
        .unwrap();
        assert_eq!(report.entries[0].sha256, ABC);
        assert_eq!(report.entries[0].size, 3);
    }

    #[test]
    fn file_that_keeps_changing_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "data/a", b"ab");
        let grow = |_| {
            let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
            f.write_all(b"c").unwrap();
        };
        let mut cache = StatCache::empty();
        let err = hash_files(&[scanned(dir.path(), "data/a")], &mut cache, &grow).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`data/a` changed while it was being hashed"
        );
        assert!(cache.is_empty());
    }

    /// A read error that root cannot bypass, unlike a chmod 000 file.
    #[test]
    fn read_error_names_the_file_even_for_root() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "data/ok", b"abc");
        fs::create_dir_all(dir.path().join("data/became_a_dir")).unwrap();
        let mut file = scanned(dir.path(), "data/ok");
        file.rel_path = "data/became_a_dir".into();
        file.abs_path = dir.path().join("data/became_a_dir");
        let mut cache = StatCache::empty();
        let err =
            hash_files(&[file, scanned(dir.path(), "data/ok")], &mut cache, &|_| {}).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read `data/became_a_dir`: is a directory"
        );
        assert!(cache.is_empty());
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "gone", b"x");
        let file = scanned(dir.path(), "gone");
        fs::remove_file(&file.abs_path).unwrap();
        let err = hash_files(&[file], &mut StatCache::empty(), &|_| {}).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read `gone`: no such file or directory"
        );
    }
}
