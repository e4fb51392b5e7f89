//! Re-checking a large unchanged dataset must cost one `stat` per file, not a read of
//! every byte. This cache remembers, per path, the stat stamp a file had when it was
//! hashed, and trusts the hash again only while the stamp is unchanged and old enough
//! that a same-tick modification cannot hide behind it (git's "racy git" problem).
//! It lives in `.git/mlops/`, is loaded with one read and saved with one write, and
//! any doubt about it (missing, truncated, corrupt, another version) empties it: the
//! cache may make a result faster, never different.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// What `stat` says about a file; any change means its content may have changed.
///
/// `ctime` is the field nobody can set back (`touch`, `cp -p` and `tar` restore
/// `mtime`, not `ctime`), and `dev`/`ino` catch a file replaced by rename, which is
/// how most tools write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

impl Stamp {
    #[cfg(unix)]
    pub fn from_metadata(meta: &fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Without inode numbers and ctime the cache is weaker but still guarded by
    /// size, mtime and the racy check.
    #[cfg(not(unix))]
    pub fn from_metadata(meta: &fs::Metadata) -> Self {
        let mtime_ns = meta.modified().map(system_time_ns).unwrap_or(i128::MAX);
        Stamp {
            dev: 0,
            ino: 0,
            size: meta.len(),
            mtime_ns,
            ctime_ns: mtime_ns,
        }
    }

    /// The later of mtime and ctime: the moment after which a change would go unseen
    /// if it landed in the same timestamp tick.
    fn last_change_ns(&self) -> i128 {
        self.mtime_ns.max(self.ctime_ns)
    }
}

/// How far apart the filesystem's timestamps and the wall clock may be: FAT rounds
/// mtimes to 2 s, and network filesystems stamp files with the server's clock.
/// An entry changed within this margin of the session that hashed it is re-hashed
/// once more by the next session; the cost is a few recently written files.
const RACY_MARGIN_NS: i128 = 2_000_000_000;

const MAGIC: &[u8; 8] = b"MLOPSSC\0";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 4 + 16;
/// Stamp (8 + 8 + 8 + 16 + 16) and hex hash (64) after each path.
const ENTRY_TAIL: usize = 56 + 64;
const CHECKSUM_LEN: usize = 8;

#[derive(Clone, Debug)]
struct Entry {
    stamp: Stamp,
    sha256: String,
}

/// Path → (stamp, hash), for one repository.
///
/// The file format (v1, little-endian) is a header, the entries sorted by the
/// bytes of their paths, and a checksum:
///
/// ```text
/// "MLOPSSC\0" | u32 version = 1 | u32 entry count | i128 session start (ns since epoch)
/// per entry:  u32 path length | path (utf-8) | u64 dev | u64 ino | u64 size
///             | i128 mtime ns | i128 ctime ns | sha256 as 64 lowercase hex digits
/// u64 checksum of everything before it (see `checksum`)
/// ```
///
/// The session start is the wall-clock time at which the saving process loaded the
/// cache, which is before it took any of the stamps it inserted. An entry whose
/// mtime or ctime is not older than that time minus [`RACY_MARGIN_NS`] is ignored
/// on load: a write that followed the hashing inside the same timestamp tick would
/// leave such a stamp unchanged.
///
/// Loading keeps the file's bytes and an index of entry offsets, and looks paths up
/// by binary search: a warm check of 20,000 files then allocates nothing per entry.
#[derive(Debug)]
pub struct StatCache {
    loaded: Vec<u8>,
    /// Offsets in `loaded` of the trusted entries, in path order.
    index: Vec<usize>,
    /// Inserted this session; shadows `loaded`.
    fresh: HashMap<String, Entry>,
    /// Position in `index` of the last hit: callers look paths up in sorted order,
    /// so the next one is usually right after it and needs no binary search.
    next_hint: AtomicUsize,
    session_start_ns: i128,
    dirty: bool,
}

impl Default for StatCache {
    fn default() -> Self {
        Self::empty_at(SystemTime::now())
    }
}

impl StatCache {
    /// An empty cache, e.g. for `verify`, which must read every byte.
    pub fn empty() -> Self {
        Self::default()
    }

    /// `now` must be the real wall-clock time: it is the racy guard's reference, so
    /// a fixed test clock in the future would make the cache trust too much.
    pub fn empty_at(now: SystemTime) -> Self {
        StatCache {
            loaded: Vec::new(),
            index: Vec::new(),
            fresh: HashMap::new(),
            next_hint: AtomicUsize::new(0),
            session_start_ns: system_time_ns(now),
            dirty: false,
        }
    }

    /// Missing, unreadable or corrupt → empty, never an error: losing the cache only
    /// costs time.
    pub fn load(path: &Path) -> Self {
        Self::load_at(path, SystemTime::now())
    }

    /// [`StatCache::load`] with the caller's reading of the wall clock (see
    /// [`StatCache::empty_at`]).
    pub fn load_at(path: &Path, now: SystemTime) -> Self {
        let mut cache = Self::empty_at(now);
        if let Ok(bytes) = fs::read(path) {
            if let Some(index) = index_entries(&bytes) {
                cache.loaded = bytes;
                cache.index = index;
            }
        }
        cache
    }

    /// The hash recorded for `rel_path`, if the file still has exactly that stamp.
    pub fn get(&self, rel_path: &str, stamp: &Stamp) -> Option<&str> {
        if let Some(entry) = self.fresh.get(rel_path) {
            return (entry.stamp == *stamp).then_some(entry.sha256.as_str());
        }
        let i = self.find_loaded(rel_path)?;
        let (_, found, sha256) = read_entry(&self.loaded, self.index[i]);
        (found == *stamp).then_some(sha256)
    }

    /// For the racy guard to hold, `stamp` must describe the file while `sha256`
    /// was read (taken before the read and found unchanged after it, as
    /// `hash_files` does) and be taken after this cache was created or loaded. A
    /// value that is not a lowercase hex SHA-256 is not cached at all.
    pub fn insert(&mut self, rel_path: String, stamp: Stamp, sha256: String) {
        if !is_sha256_hex(sha256.as_bytes()) || self.get(&rel_path, &stamp) == Some(&sha256) {
            return;
        }
        self.fresh.insert(rel_path, Entry { stamp, sha256 });
        self.dirty = true;
    }

    /// Forgets paths the caller knows are gone, so the cache does not grow forever.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let before = (self.index.len(), self.fresh.len());
        let loaded = &self.loaded;
        self.index.retain(|&at| keep(read_entry(loaded, at).0));
        self.fresh.retain(|path, _| keep(path));
        self.dirty |= before != (self.index.len(), self.fresh.len());
    }

    /// Whether [`StatCache::save`] would write anything new; a warm check that hit
    /// every entry can skip the write.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    pub fn len(&self) -> usize {
        let shadowed = self
            .fresh
            .keys()
            .filter(|p| self.find_loaded(p).is_some())
            .count();
        self.index.len() + self.fresh.len() - shadowed
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Written to a temporary file beside `path` and renamed over it, so a reader
    /// sees the old cache or the new one, never half of one. Not fsynced: after a
    /// crash the checksum turns a torn file into an empty cache.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let bytes = self.encode();
        let tmp = temp_path(path);
        let written = fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(&bytes))
            .and_then(|()| fs::rename(&tmp, path));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written
    }

    fn find_loaded(&self, rel_path: &str) -> Option<usize> {
        let path_at = |at: usize| {
            let len = u32_at(&self.loaded, at).expect("indexed entry") as usize;
            &self.loaded[at + 4..at + 4 + len]
        };
        let hint = self.next_hint.load(Ordering::Relaxed);
        let found = match self.index.get(hint) {
            Some(&at) if path_at(at) == rel_path.as_bytes() => hint,
            _ => self
                .index
                .binary_search_by(|&at| path_at(at).cmp(rel_path.as_bytes()))
                .ok()?,
        };
        self.next_hint.store(found + 1, Ordering::Relaxed);
        Some(found)
    }

    /// Merges the loaded entries and this session's, in path order.
    fn encode(&self) -> Vec<u8> {
        let mut fresh: Vec<(&str, Stamp, &str)> = self
            .fresh
            .iter()
            .map(|(path, e)| (path.as_str(), e.stamp, e.sha256.as_str()))
            .collect();
        fresh.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let loaded = self
            .index
            .iter()
            .map(|&at| read_entry(&self.loaded, at))
            .filter(|(path, _, _)| !self.fresh.contains_key(*path));
        let mut merged: Vec<(&str, Stamp, &str)> =
            Vec::with_capacity(self.index.len() + fresh.len());
        let mut fresh = fresh.into_iter().peekable();
        for entry in loaded {
            while let Some(next) = fresh.next_if(|f| f.0 < entry.0) {
                merged.push(next);
            }
            merged.push(entry);
        }
        merged.extend(fresh);
        let size: usize = merged.iter().map(|e| 4 + e.0.len() + ENTRY_TAIL).sum();
        let mut out = Vec::with_capacity(HEADER_LEN + size + CHECKSUM_LEN);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(merged.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.session_start_ns.to_le_bytes());
        for (path, stamp, sha256) in merged {
            out.extend_from_slice(&(path.len() as u32).to_le_bytes());
            out.extend_from_slice(path.as_bytes());
            out.extend_from_slice(&stamp.dev.to_le_bytes());
            out.extend_from_slice(&stamp.ino.to_le_bytes());
            out.extend_from_slice(&stamp.size.to_le_bytes());
            out.extend_from_slice(&stamp.mtime_ns.to_le_bytes());
            out.extend_from_slice(&stamp.ctime_ns.to_le_bytes());
            out.extend_from_slice(sha256.as_bytes());
        }
        let sum = checksum(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }
}
/// Offsets of the entries to trust, or `None` for anything not written by this
/// version of [`StatCache::encode`]: bad checksum, magic or version, truncation,
/// paths out of order, a hash that is not lowercase hex.
fn index_entries(bytes: &[u8]) -> Option<Vec<usize>> {
    let body_len = bytes.len().checked_sub(CHECKSUM_LEN)?;
    let (body, sum) = bytes.split_at(body_len);
    if body.len() < HEADER_LEN || checksum(body).to_le_bytes() != sum {
        return None;
    }
    if &body[..8] != MAGIC || u32_at(body, 8)? != VERSION {
        return None;
    }
    let count = u32_at(body, 12)? as usize;
    let session_start_ns = i128::from_le_bytes(body[16..32].try_into().ok()?);
    let mut index = Vec::with_capacity(count.min(body.len() / ENTRY_TAIL));
    let mut at = HEADER_LEN;
    let mut previous: Option<&[u8]> = None;
    for _ in 0..count {
        let path_len = u32_at(body, at)? as usize;
        let end = at.checked_add(4 + path_len + ENTRY_TAIL)?;
        let entry = body.get(at..end)?;
        let path = &entry[4..4 + path_len];
        if std::str::from_utf8(path).is_err() || previous.is_some_and(|p| p >= path) {
            return None;
        }
        if !is_sha256_hex(&entry[entry.len() - 64..]) {
            return None;
        }
        previous = Some(path);
        let (_, stamp, _) = read_entry(body, at);
        if stamp.last_change_ns() < session_start_ns - RACY_MARGIN_NS {
            index.push(at);
        }
        at = end;
    }
    (at == body.len()).then_some(index)
}

/// The entry at `at`, which [`index_entries`] has checked.
fn read_entry(bytes: &[u8], at: usize) -> (&str, Stamp, &str) {
    let path_len = u32_at(bytes, at).expect("indexed entry") as usize;
    let path_end = at + 4 + path_len;
    let tail = &bytes[path_end..path_end + ENTRY_TAIL];
    let u64_at = |i: usize| u64::from_le_bytes(tail[i..i + 8].try_into().expect("8 bytes"));
    let i128_at = |i: usize| i128::from_le_bytes(tail[i..i + 16].try_into().expect("16 bytes"));
    let stamp = Stamp {
        dev: u64_at(0),
        ino: u64_at(8),
        size: u64_at(16),
        mtime_ns: i128_at(24),
        ctime_ns: i128_at(40),
    };
    let text = |b| std::str::from_utf8(b).unwrap_or_default();
    (text(&bytes[at + 4..path_end]), stamp, text(&tail[56..]))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        bytes.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn is_sha256_hex(text: &[u8]) -> bool {
    text.len() == 64
        && text
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// Catches torn writes and flipped bits at memory speed: SHA-256 over a 3 MB cache
/// would be a tenth of a warm check. Not a defence against someone who can write
/// `.git`, who could as well rewrite the records themselves.
fn checksum(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = K ^ bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        // Each step is a bijection of `h`, so one changed word always changes the sum.
        h = (h ^ u64::from_le_bytes(word.try_into().expect("8 bytes"))).wrapping_mul(K);
        h ^= h >> 29;
    }
    let mut last = [0u8; 8];
    last[..words.remainder().len()].copy_from_slice(words.remainder());
    h = (h ^ u64::from_le_bytes(last)).wrapping_mul(K);
    h ^ (h >> 32)
}

fn system_time_ns(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// Unique per process, so two concurrent `mlops` runs never write the same
/// temporary file; the last rename wins, and either result is a valid cache.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn stamp(seed: u64, changed_ns: i128) -> Stamp {
        Stamp {
            dev: 1,
            ino: seed,
            size: seed * 10,
            mtime_ns: changed_ns,
            ctime_ns: changed_ns,
        }
    }

    fn hash_of(n: u8) -> String {
        hex::encode([n; 32])
    }

    /// A session one hour after epoch + 1 day, and stamps well before it.
    fn old_session() -> (SystemTime, i128) {
        let now = UNIX_EPOCH + Duration::from_secs(86_400 + 3_600);
        (now, 86_400 * 1_000_000_000)
    }

    #[test]
    fn round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mlops/statcache");
        let (now, old) = old_session();
        let mut cache = StatCache::empty_at(now);
        cache.insert("data/a.csv".into(), stamp(1, old), hash_of(1));
        cache.insert("data/é b.csv".into(), stamp(2, old + 5), hash_of(2));
        assert!(cache.is_dirty());
        cache.save(&path).unwrap();

        let loaded = StatCache::load_at(&path, now);
        assert_eq!(loaded.len(), 2);
        assert!(!loaded.is_dirty());
        assert_eq!(
            loaded.get("data/a.csv", &stamp(1, old)),
            Some(hash_of(1).as_str())
        );
        assert_eq!(
            loaded.get("data/é b.csv", &stamp(2, old + 5)),
            Some(hash_of(2).as_str())
        );
        // Any field of the stamp differing is a miss.
        let mut moved = stamp(1, old);
        moved.ino += 1;
        assert_eq!(loaded.get("data/a.csv", &moved), None);
        let mut touched = stamp(1, old);
        touched.ctime_ns += 1;
        assert_eq!(loaded.get("data/a.csv", &touched), None);
        assert_eq!(loaded.get("data/missing", &stamp(1, old)), None);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn missing_or_corrupt_cache_loads_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statcache");
        assert!(StatCache::load(&path).is_empty());

        let (now, old) = old_session();
        let mut cache = StatCache::empty_at(now);
        cache.insert("a".into(), stamp(1, old), hash_of(1));
        cache.save(&path).unwrap();
        let good = fs::read(&path).unwrap();

        // A flipped bit anywhere, a truncation, garbage; and, with a valid
        // checksum, another version or entries out of order.
        let mut flipped = good.clone();
        flipped[HEADER_LEN + 10] ^= 1;
        let mut other_version = good.clone();
        other_version[8] = 2;
        for bad in [
            flipped,
            good[..good.len() - 1].to_vec(),
            good[..10].to_vec(),
            b"not a cache".to_vec(),
            Vec::new(),
            reseal(other_version),
        ] {
            fs::write(&path, &bad).unwrap();
            assert!(StatCache::load_at(&path, now).is_empty());
        }
        let mut two = StatCache::empty_at(now);
        two.insert("a".into(), stamp(1, old), hash_of(1));
        two.insert("b".into(), stamp(2, old), hash_of(2));
        two.save(&path).unwrap();
        let mut swapped = fs::read(&path).unwrap();
        let a = swapped.iter().position(|&b| b == b'a').unwrap();
        let b = swapped.iter().position(|&b| b == b'b').unwrap();
        swapped.swap(a, b);
        fs::write(&path, reseal(swapped)).unwrap();
        assert!(StatCache::load_at(&path, now).is_empty());
    }

    fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
        bytes.truncate(bytes.len() - CHECKSUM_LEN);
        let sum = checksum(&bytes);
        bytes.extend_from_slice(&sum.to_le_bytes());
        bytes
    }

    #[test]
    fn session_inserts_shadow_loaded_entries_and_merge_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statcache");
        let (now, old) = old_session();
        let mut first = StatCache::empty_at(now);
        for (i, p) in ["b", "d", "f"].iter().enumerate() {
            first.insert(p.to_string(), stamp(i as u64, old), hash_of(i as u8));
        }
        first.save(&path).unwrap();
        let mut second = StatCache::load_at(&path, now);
        second.insert("a".into(), stamp(10, old), hash_of(10));
        second.insert("d".into(), stamp(11, old), hash_of(11));
        second.insert("z".into(), stamp(12, old), hash_of(12));
        assert_eq!(second.len(), 5);
        assert_eq!(second.get("d", &stamp(1, old)), None);
        assert_eq!(second.get("d", &stamp(11, old)), Some(hash_of(11).as_str()));
        second.save(&path).unwrap();
        let third = StatCache::load_at(&path, now);
        assert_eq!(third.len(), 5);
        for (p, seed) in [("a", 10), ("b", 0), ("d", 11), ("f", 2), ("z", 12)] {
            assert_eq!(
                third.get(p, &stamp(seed, old)),
                Some(hash_of(seed as u8).as_str()),
                "{p}"
            );
        }
        assert!(!StatCache::load_at(&path, now).is_dirty());
    }

    #[test]
    fn malformed_hashes_are_not_cached() {
        let (now, old) = old_session();
        let mut cache = StatCache::empty_at(now);
        cache.insert("a".into(), stamp(1, old), "ABC".into());
        cache.insert("b".into(), stamp(1, old), "F".repeat(64));
        assert!(cache.is_empty() && !cache.is_dirty());
    }

    #[test]
    fn racy_entries_are_dropped_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statcache");
        let session = UNIX_EPOCH + Duration::from_secs(1_000);
        let session_ns = 1_000 * 1_000_000_000i128;
        let mut cache = StatCache::empty_at(session);
        cache.insert(
            "old".into(),
            stamp(1, session_ns - RACY_MARGIN_NS - 1),
            hash_of(1),
        );
        cache.insert(
            "edge".into(),
            stamp(2, session_ns - RACY_MARGIN_NS),
            hash_of(2),
        );
        cache.insert("recent".into(), stamp(3, session_ns - 1), hash_of(3));
        cache.insert(
            "future".into(),
            stamp(4, session_ns + 60_000_000_000),
            hash_of(4),
        );
        let mut ctime_only = stamp(5, session_ns - 100 * RACY_MARGIN_NS);
        ctime_only.ctime_ns = session_ns;
        cache.insert("chmodded".into(), ctime_only, hash_of(5));
        cache.save(&path).unwrap();

        let loaded = StatCache::load_at(&path, session + Duration::from_secs(3_600));
        assert_eq!(loaded.len(), 1);
        assert!(loaded
            .get("old", &stamp(1, session_ns - RACY_MARGIN_NS - 1))
            .is_some());
    }

    #[test]
    fn insert_of_the_same_value_is_not_a_change() {
        let (now, old) = old_session();
        let mut cache = StatCache::empty_at(now);
        cache.insert("a".into(), stamp(1, old), hash_of(1));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statcache");
        cache.save(&path).unwrap();
        let mut loaded = StatCache::load_at(&path, now);
        loaded.insert("a".into(), stamp(1, old), hash_of(1));
        assert!(!loaded.is_dirty());
        loaded.retain(|p| p != "a");
        assert!(loaded.is_dirty() && loaded.is_empty());
    }
}
