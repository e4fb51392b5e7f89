//! A dataset version is a list of files with their sizes and SHA-256 hashes, plus one
//! root hash that stands for the whole list. This module owns that list: how the root
//! is built (so that an auditor can rebuild it with `sha256sum` alone) and how two
//! versions differ.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// One file of a dataset version.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileEntry {
    /// Relative to the repository root, `/`-separated, so manifests compare equal
    /// across machines. Never contains a newline, a control character or a
    /// backslash (the scanner refuses those), which keeps the root's listing
    /// identical to what `sha256sum` prints.
    pub path: String,
    pub size: u64,
    /// Lowercase hex, as `sha256sum` prints it.
    pub sha256: String,
    /// `symlink` when the file is, or is reached through, a symlink out of the
    /// repository (`--allow-outside`): the content is the target's, whose
    /// location is not recorded. Not part of the root, which is `sha256sum`'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outside: Option<crate::outside::Outside>,
}

/// The root hash of a dataset version.
///
/// It is the SHA-256 of the listing that `sha256sum` itself prints for the files,
/// one line per file, sorted by the bytes of the path:
///
/// ```text
/// <sha256 in lowercase hex><two spaces><path>\n
/// ```
///
/// That is a one-level Merkle tree (a hash list): every leaf is a file's content
/// hash, so changing, adding, removing or renaming any file changes the root, and
/// the listing doubles as a `SHA256SUMS` file that `sha256sum -c` checks. Sizes are
/// left out of the root on purpose: the content hash already binds the size, and
/// leaving them out is what makes the listing exactly `sha256sum`'s output.
///
/// An auditor recomputes it from the files, in the repository root (`LC_ALL=C`
/// makes `sort` order by bytes, as here):
///
/// ```text
/// find data -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum
/// ```
///
/// (`find -L` when the dataset holds symlinks to files; mlops skips symlinks to
/// folders, so with those present recompute from the manifest instead), or from a
/// stored manifest: `jq -r '.files[] | "\(.sha256)  \(.path)"' m.json | sha256sum`.
/// An empty list gives the hash of the empty string, as `printf '' | sha256sum` does.
pub fn merkle_root(entries: &[FileEntry]) -> String {
    let mut sorted: Vec<&FileEntry> = entries.iter().collect();
    // Callers normally pass sorted entries; sorting again is cheap next to hashing
    // and means a caller's mistake cannot produce a root nobody can recompute.
    if !sorted.is_sorted_by(|a, b| a.path <= b.path) {
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
    }
    // Lines are gathered into 64 KiB blocks: four small `update`s per file cost
    // more than the hashing itself on a 20,000-file manifest.
    let mut hasher = Sha256::new();
    let mut block = Vec::with_capacity(1 << 16);
    for entry in sorted {
        block.extend_from_slice(entry.sha256.as_bytes());
        block.extend_from_slice(b"  ");
        block.extend_from_slice(entry.path.as_bytes());
        block.push(b'\n');
        if block.len() >= 1 << 16 {
            hasher.update(&block);
            block.clear();
        }
    }
    hasher.update(&block);
    sha256_hex(&hasher.finalize().into())
}

/// Lowercase hex of a digest. `hex::encode` goes through a `char` iterator, which
/// showed up in profiles of a warm check over 20,000 cached hashes.
pub(crate) fn sha256_hex(digest: &[u8; 32]) -> String {
    let mut out = [0u8; 64];
    hex::encode_to_slice(digest, &mut out).expect("64 bytes hold 32 in hex");
    String::from_utf8(out.to_vec()).expect("hex is ascii")
}

/// What changed between two versions of a dataset, each list sorted by path.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ManifestDiff {
    pub added: Vec<FileEntry>,
    pub removed: Vec<FileEntry>,
    /// `(old, new)`: same path, different content.
    pub modified: Vec<(FileEntry, FileEntry)>,
}

impl ManifestDiff {
    /// `status` and `verify` answer "did anything change", which is this.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.modified.is_empty()
    }
}

/// Compares by path, so a rename shows as one removal and one addition; the two
/// share a hash, which a caller can use to print it as a rename.
pub fn diff(old: &[FileEntry], new: &[FileEntry]) -> ManifestDiff {
    let old_by_path: BTreeMap<&str, &FileEntry> =
        old.iter().map(|e| (e.path.as_str(), e)).collect();
    let new_by_path: BTreeMap<&str, &FileEntry> =
        new.iter().map(|e| (e.path.as_str(), e)).collect();
    let mut out = ManifestDiff::default();
    for (path, n) in &new_by_path {
        match old_by_path.get(path) {
            None => out.added.push((*n).clone()),
            Some(o) if o.sha256 != n.sha256 || o.size != n.size => {
                out.modified.push(((*o).clone(), (*n).clone()))
            }
            Some(_) => {}
        }
    }
    for (path, o) in &old_by_path {
        if !new_by_path.contains_key(path) {
            out.removed.push((*o).clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn entry(path: &str, content: &[u8]) -> FileEntry {
        FileEntry {
            path: path.into(),
            size: content.len() as u64,
            sha256: hex::encode(Sha256::digest(content)),
            outside: None,
        }
    }

    #[test]
    fn empty_manifest_has_the_empty_string_hash() {
        assert_eq!(
            merkle_root(&[]),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn root_is_the_hash_of_the_sha256sum_listing() {
        let entries = vec![
            entry("a/b.csv", b"1,2\n"),
            entry("a-b", b""),
            entry("z", b"z"),
        ];
        // Written out by hand, in byte order of the path ("a-b" < "a/b.csv").
        let listing = format!(
            "{}  a-b\n{}  a/b.csv\n{}  z\n",
            entries[1].sha256, entries[0].sha256, entries[2].sha256
        );
        let expected = hex::encode(Sha256::digest(listing.as_bytes()));
        assert_eq!(merkle_root(&entries), expected);
        let mut sorted = entries.clone();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
        assert_eq!(merkle_root(&sorted), expected);
    }

    /// The documented shell one-liner must give the same root, so run it.
    #[test]
    fn root_matches_the_documented_shell_one_liner() {
        let dir = tempfile::tempdir().unwrap();
        let files: &[(&str, &[u8])] = &[
            ("data/train.csv", b"x,y\n1,2\n"),
            ("data/sub/empty", b""),
            ("data/sub-dir/b", b"b"),
            ("data/Z upper", b"Z"),
        ];
        let mut entries = Vec::new();
        for (path, content) in files {
            let abs = dir.path().join(path);
            std::fs::create_dir_all(abs.parent().unwrap()).unwrap();
            std::fs::write(&abs, content).unwrap();
            entries.push(entry(path, content));
        }
        let script =
            "find data -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum";
        let Ok(out) = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir.path())
            .output()
        else {
            eprintln!("no shell here; skipping");
            return;
        };
        if !out.status.success() {
            eprintln!("sha256sum unavailable; skipping");
            return;
        }
        let shell_root = String::from_utf8(out.stdout).unwrap();
        assert_eq!(&shell_root[..64], merkle_root(&entries));
    }

    #[test]
    fn diff_reports_added_removed_and_modified() {
        let old = vec![entry("a", b"1"), entry("b", b"2"), entry("c", b"3")];
        let new = vec![entry("a", b"1"), entry("c", b"33"), entry("d", b"4")];
        let d = diff(&old, &new);
        assert_eq!(d.added, vec![entry("d", b"4")]);
        assert_eq!(d.removed, vec![entry("b", b"2")]);
        assert_eq!(d.modified, vec![(entry("c", b"3"), entry("c", b"33"))]);
        assert!(!d.is_empty());
        assert!(diff(&new, &new).is_empty());
    }

    #[test]
    fn diff_does_not_depend_on_input_order() {
        let old = vec![entry("b", b"2"), entry("a", b"1")];
        let new = vec![entry("c", b"3"), entry("a", b"x")];
        let d = diff(&old, &new);
        assert_eq!(d.added, vec![entry("c", b"3")]);
        assert_eq!(d.removed, vec![entry("b", b"2")]);
        assert_eq!(d.modified.len(), 1);
    }
}
