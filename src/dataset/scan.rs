//! `mlops data add data/ extra.csv` names files and folders the way a user types
//! them; a manifest needs the exact set of regular files under them, keyed by a
//! stable repository-relative path. This module draws that line once: what is
//! inside the repository, what a symlink means, what is skipped with a warning and
//! what is an error. It also takes each file's stat stamp, the one `stat` that a
//! warm check pays per file.
//!
//! A symlink whose target is outside the repository — met in a folder, named,
//! or on the way to a named path (`data -> /mnt/datasets`) — is refused unless
//! [`Options::allow_outside`] (`--allow-outside`); allowed, its files keep
//! their paths inside the repository and are marked [`ScannedFile::outside`],
//! and where the link points is never part of the result (crate::outside).

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;

use super::statcache::Stamp;

/// A regular file (or a symlink to one) found under the inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedFile {
    /// The manifest key: relative to the repository root, `/`-separated.
    pub rel_path: String,
    pub abs_path: PathBuf,
    /// Of the file's content, so of the target for a symlink.
    pub stamp: Stamp,
    /// The file is, or is reached through, a symlink out of the repository.
    pub outside: bool,
}

/// How a scan treats what leads out of the repository.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Follow symlinks whose target is outside the repository (the files
    /// keep the link's path and are marked); otherwise they are an error.
    pub allow_outside: bool,
}

/// Why an entry inside a walked folder was left out; the CLI warns about each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum SkipReason {
    /// Following it could loop or leave the repository; name the target instead.
    #[error("symlink to a directory")]
    SymlinkToDirectory,
    #[error("dangling symlink")]
    DanglingSymlink,
    /// FIFOs, sockets and devices have no fixed content to hash (and opening a
    /// FIFO would block).
    #[error("not a regular file")]
    NotRegularFile,
}

/// The files to hash, plus what was left out and why.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// Sorted by `rel_path` (bytes), no duplicates.
    pub files: Vec<ScannedFile>,
    /// Sorted by path.
    pub skipped: Vec<(String, SkipReason)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("`{path}` does not exist")]
    NotFound { path: String },
    #[error("`{path}` is outside the repository `{repo}`")]
    OutsideRepo { path: String, repo: String },
    #[error("`{path}` is a symlink to `{target}`, outside the repository")]
    LinkOutside { path: String, target: String },
    #[error("`{path}` goes through the symlink `{link}` to `{target}`, outside the repository")]
    ThroughLinkOutside {
        path: String,
        link: String,
        target: String,
    },
    #[error("`{path}` is inside `.git`, which mlops never scans")]
    InsideGitDir { path: String },
    #[error("no files under `{path}`")]
    NoFiles { path: String },
    #[error("`{path}` is a dangling symlink")]
    DanglingSymlink { path: String },
    #[error("`{path}` is a symlink to a directory: name the directory itself")]
    SymlinkToDirectory { path: String },
    #[error("`{path}` is not a regular file or directory")]
    NotRegularFile { path: String },
    #[error("`{path}` is not valid utf-8: rename it, manifests store paths as json text")]
    NonUtf8Path { path: String },
    #[error("`{path}` has a newline, control character or backslash in its name: rename it, manifests list one path per line")]
    UnsupportedName { path: String },
    #[error("cannot read `{path}`: {reason}")]
    Io {
        path: String,
        reason: String,
        kind: io::ErrorKind,
    },
}

impl ScanError {
    fn io(path: &Path, err: &io::Error) -> Self {
        ScanError::Io {
            path: path.display().to_string(),
            reason: describe(err),
            kind: err.kind(),
        }
    }
}

/// Resolves `inputs` (absolute, or relative to the current directory, as every
/// `std::fs` call takes them) against `repo_root` and lists their files.
///
/// Symlinks: a link to a file counts as a file at the link's path with the
/// target's content, as `sha256sum` reads it; a link to a directory or a dangling
/// link inside a walked folder is skipped, and named directly it is an error.
/// A symlink out of the repository is an error (see [`scan_with_options`]).
/// Every input must yield at least one file.
pub fn scan(repo_root: &Path, inputs: &[PathBuf]) -> Result<Scan, ScanError> {
    scan_with_options(repo_root, inputs, Options::default())
}

/// [`scan`], with symlinks out of the repository allowed or not: a named
/// symlink to a folder outside is then walked at the link's path.
pub fn scan_with_options(
    repo_root: &Path,
    inputs: &[PathBuf],
    options: Options,
) -> Result<Scan, ScanError> {
    scan_with(repo_root, inputs, true, options)
}

/// Like [`scan`], but an input that holds no files contributes none instead
/// of being an error: what `data status` needs, where a pinned folder that
/// was emptied means its files were removed. It records nothing, so it
/// follows symlinks out of the repository: a version added with
/// `--allow-outside` is checked like any other.
pub fn scan_present(repo_root: &Path, inputs: &[PathBuf]) -> Result<Scan, ScanError> {
    scan_with(
        repo_root,
        inputs,
        false,
        Options {
            allow_outside: true,
        },
    )
}

/// What every step of one scan needs to know.
struct Ctx<'a> {
    /// Canonical.
    root: &'a Path,
    /// As the caller gave it, for inputs written under a symlinked root.
    given_root: &'a Path,
    options: Options,
}

fn scan_with(
    repo_root: &Path,
    inputs: &[PathBuf],
    require_files: bool,
    options: Options,
) -> Result<Scan, ScanError> {
    let root = fs::canonicalize(repo_root).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ScanError::NotFound {
            path: repo_root.display().to_string(),
        },
        _ => ScanError::io(repo_root, &e),
    })?;
    let ctx = Ctx {
        root: &root,
        given_root: repo_root,
        options,
    };
    let mut scan = Scan::default();
    for input in inputs {
        let before = scan.files.len();
        for found in scan_input(&ctx, input)? {
            match found {
                Found::File(file) => scan.files.push(file),
                Found::Skipped(path, reason) => scan.skipped.push((path, reason)),
            }
        }
        if require_files && scan.files.len() == before {
            return Err(ScanError::NoFiles {
                path: input.display().to_string(),
            });
        }
    }
    scan.files
        .sort_unstable_by(|a, b| a.rel_path.cmp(&b.rel_path));
    scan.files.dedup_by(|a, b| a.rel_path == b.rel_path);
    scan.skipped.sort();
    scan.skipped.dedup();
    Ok(scan)
}

enum Found {
    File(ScannedFile),
    Skipped(String, SkipReason),
}

fn scan_input(ctx: &Ctx, input: &Path) -> Result<Vec<Found>, ScanError> {
    let (abs, rel, through) = resolve(ctx, input)?;
    let shown = || input.display().to_string();
    let meta = fs::symlink_metadata(&abs).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ScanError::NotFound { path: shown() },
        _ => ScanError::io(input, &e),
    })?;
    if meta.is_dir() {
        return walk_dir(ctx, &abs, &rel, through);
    }
    // Named explicitly, so anything but a file is an error, not a skip.
    let mut outside = through;
    let meta = match meta.file_type().is_symlink() {
        false => meta,
        true => match fs::metadata(&abs) {
            Ok(target) => {
                let leads_out = !through && link_leads_out(ctx, &abs, &rel)?;
                outside |= leads_out;
                if target.is_dir() {
                    if !outside {
                        return Err(ScanError::SymlinkToDirectory { path: shown() });
                    }
                    // A folder outside, allowed: walked at the link's path.
                    // Links inside it are not followed, so the walk ends.
                    let target = fs::canonicalize(&abs).map_err(|e| ScanError::io(input, &e))?;
                    return walk_dir(ctx, &target, &rel, true);
                }
                target
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ScanError::DanglingSymlink { path: shown() })
            }
            Err(e) => return Err(ScanError::io(input, &e)),
        },
    };
    if !meta.is_file() {
        return Err(ScanError::NotRegularFile { path: shown() });
    }
    Ok(vec![Found::File(ScannedFile {
        rel_path: rel,
        abs_path: abs,
        stamp: Stamp::from_metadata(&meta),
        outside,
    })])
}

/// Whether the symlink at `abs` (shown as `rel`) points outside the
/// repository; an error when it does and that is not allowed.
fn link_leads_out(ctx: &Ctx, abs: &Path, rel: &str) -> Result<bool, ScanError> {
    let target = fs::canonicalize(abs).map_err(|e| ScanError::io(Path::new(rel), &e))?;
    if target.starts_with(ctx.root) {
        return Ok(false);
    }
    match ctx.options.allow_outside {
        true => Ok(true),
        false => Err(ScanError::LinkOutside {
            path: rel.to_string(),
            target: target.display().to_string(),
        }),
    }
}

/// Folders are read in parallel and each file is stat'ed through its folder's open
/// handle (`fstatat`), which skips the path lookup a `stat` by full path pays: on
/// a warm check this walk is nearly all the time there is.
///
/// `outside`: the folder was reached through a symlink out of the repository,
/// so all of its files are marked.
fn walk_dir(ctx: &Ctx, abs: &Path, rel: &str, outside: bool) -> Result<Vec<Found>, ScanError> {
    let shown = || Path::new(if rel.is_empty() { "." } else { rel }).to_path_buf();
    let read_error = |e: io::Error| ScanError::io(&shown(), &e);
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for entry in fs::read_dir(abs).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let name = entry.file_name();
        // Also a submodule's or worktree's `.git` file: git's data, never ours.
        if name == ".git" {
            continue;
        }
        let child_rel = join_name(rel, &name)?;
        let file_type = entry.file_type().map_err(read_error)?;
        if file_type.is_dir() {
            dirs.push((entry.path(), child_rel));
        } else {
            files.push((entry, child_rel, file_type.is_symlink()));
        }
    }
    let (found, nested) = rayon::join(
        || {
            files
                .into_par_iter()
                .map(|(entry, rel, is_symlink)| stat_walked(ctx, &entry, rel, is_symlink, outside))
                .collect::<Result<Vec<_>, _>>()
        },
        || {
            dirs.into_par_iter()
                .map(|(abs, rel)| walk_dir(ctx, &abs, &rel, outside))
                .collect::<Result<Vec<_>, _>>()
        },
    );
    let mut found = found?;
    for sub in nested? {
        found.extend(sub);
    }
    Ok(found)
}

fn stat_walked(
    ctx: &Ctx,
    entry: &fs::DirEntry,
    rel: String,
    is_symlink: bool,
    outside: bool,
) -> Result<Found, ScanError> {
    // A symlink's stamp is its target's, so editing the target or pointing the
    // link elsewhere (another inode) is a change.
    let meta = match is_symlink {
        true => fs::metadata(entry.path()),
        false => entry.metadata(),
    };
    let meta = match meta {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound && is_symlink => {
            return Ok(Found::Skipped(rel, SkipReason::DanglingSymlink))
        }
        Err(e) => return Err(ScanError::io(Path::new(&rel), &e)),
    };
    if meta.is_file() {
        let outside = outside || (is_symlink && link_leads_out(ctx, &entry.path(), &rel)?);
        return Ok(Found::File(ScannedFile {
            stamp: Stamp::from_metadata(&meta),
            abs_path: entry.path(),
            rel_path: rel,
            outside,
        }));
    }
    let reason = match is_symlink && meta.is_dir() {
        true => SkipReason::SymlinkToDirectory,
        false => SkipReason::NotRegularFile,
    };
    Ok(Found::Skipped(rel, reason))
}

/// The input's absolute path with every directory resolved but the last component
/// kept as written, so a symlink stays a symlink (recorded at its own path), its
/// repository-relative path, and whether it goes through a symlink out of the
/// repository (then the path is the one written, below the repository).
fn resolve(ctx: &Ctx, input: &Path) -> Result<(PathBuf, String, bool), ScanError> {
    let root = ctx.root;
    let shown = || input.display().to_string();
    let not_found = |e: io::Error| match e.kind() {
        io::ErrorKind::NotFound => ScanError::NotFound { path: shown() },
        _ => ScanError::io(input, &e),
    };
    let absolute = std::path::absolute(input).map_err(not_found)?;
    let abs = match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => fs::canonicalize(parent).map_err(not_found)?.join(name),
        _ => fs::canonicalize(&absolute).map_err(not_found)?,
    };
    let (below, through) = match abs.strip_prefix(root) {
        Ok(below) => (below.to_path_buf(), None),
        // Outside, unless written inside and led out by a symlink on the way.
        Err(_) => {
            let written = crate::outside::lexical(Path::new("/"), &absolute);
            let escape = crate::outside::below(&written, ctx.given_root, root).and_then(|below| {
                let parent = below.parent().unwrap_or(Path::new(""));
                crate::outside::escaping_link(root, parent).map(|link| (below.to_path_buf(), link))
            });
            let Some((below, link)) = escape else {
                return Err(ScanError::OutsideRepo {
                    path: shown(),
                    repo: root.display().to_string(),
                });
            };
            (below, Some(link))
        }
    };
    if below.components().any(|c| c.as_os_str() == ".git") {
        return Err(ScanError::InsideGitDir { path: shown() });
    }
    let mut rel = String::new();
    for component in below.components() {
        if let Component::Normal(name) = component {
            rel = join_name(&rel, name)?;
        }
    }
    if let Some((link, target)) = &through {
        if !ctx.options.allow_outside {
            return Err(ScanError::ThroughLinkOutside {
                path: rel,
                link: link.clone(),
                target: target.display().to_string(),
            });
        }
    }
    Ok((abs, rel, through.is_some()))
}

/// `prefix` + `/` + `name`, refusing names a JSON manifest or a `sha256sum`
/// listing cannot carry unambiguously.
fn join_name(prefix: &str, name: &std::ffi::OsStr) -> Result<String, ScanError> {
    let shown = || match prefix.is_empty() {
        true => name.to_string_lossy().into_owned(),
        false => format!("{prefix}/{}", name.to_string_lossy()),
    };
    let Some(name) = name.to_str() else {
        return Err(ScanError::NonUtf8Path { path: shown() });
    };
    if name.chars().any(|c| c.is_control() || c == '\\') {
        return Err(ScanError::UnsupportedName {
            path: shown().escape_debug().to_string(),
        });
    }
    Ok(match prefix.is_empty() {
        true => name.to_owned(),
        false => format!("{prefix}/{name}"),
    })
}

/// `io::Error`'s text in the message style: lowercase, without "(os error 13)".
pub(crate) fn describe(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match text.find(" (os error ") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct Repo {
        _dir: tempfile::TempDir,
        root: PathBuf,
    }

    impl Repo {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let root = fs::canonicalize(dir.path()).unwrap().join("repo");
            fs::create_dir_all(root.join(".git/objects")).unwrap();
            fs::write(root.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
            Repo { _dir: dir, root }
        }
        fn write(&self, rel: &str, content: &[u8]) -> PathBuf {
            let path = self.root.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, content).unwrap();
            path
        }
        fn scan(&self, inputs: &[&str]) -> Result<Scan, ScanError> {
            let inputs: Vec<PathBuf> = inputs.iter().map(|i| self.root.join(i)).collect();
            scan(&self.root, &inputs)
        }
    }

    fn rel_paths(scan: &Scan) -> Vec<&str> {
        scan.files.iter().map(|f| f.rel_path.as_str()).collect()
    }

    #[test]
    fn walks_nested_folders_sorted_and_deduplicated() {
        let repo = Repo::new();
        repo.write("data/b/2.csv", b"2");
        repo.write("data/a.csv", b"1");
        repo.write("data-x/c.csv", b"3");
        repo.write("data/b/empty", b"");
        fs::create_dir_all(repo.root.join("data/empty_dir")).unwrap();
        let scan = repo
            .scan(&["data", "data/a.csv", "data-x", "data/../data"])
            .unwrap();
        assert_eq!(
            rel_paths(&scan),
            ["data-x/c.csv", "data/a.csv", "data/b/2.csv", "data/b/empty"]
        );
        assert!(scan.skipped.is_empty());
        let empty = &scan.files[3];
        assert_eq!(empty.stamp.size, 0);
        assert_eq!(empty.abs_path, repo.root.join("data/b/empty"));
    }

    #[test]
    fn relative_inputs_resolve_against_the_current_directory() {
        let repo = Repo::new();
        repo.write("data/a.csv", b"1");
        let cwd = std::env::current_dir().unwrap();
        let rel_input = pathdiff(&repo.root.join("data"), &cwd);
        let scan = scan(&repo.root, &[rel_input]).unwrap();
        assert_eq!(rel_paths(&scan), ["data/a.csv"]);
    }

    /// `../../x` from `from` to `to`, for a relative-input test without `chdir`.
    fn pathdiff(to: &Path, from: &Path) -> PathBuf {
        let mut up = PathBuf::new();
        for _ in from.components().skip(1) {
            up.push("..");
        }
        up.join(to.strip_prefix("/").unwrap())
    }

    #[test]
    fn never_scans_dot_git() {
        let repo = Repo::new();
        repo.write("a.csv", b"1");
        repo.write("sub/.git", b"gitdir: elsewhere\n");
        repo.write("sub/b.csv", b"2");
        let scan = repo.scan(&["."]).unwrap();
        assert_eq!(rel_paths(&scan), ["a.csv", "sub/b.csv"]);
        let err = repo.scan(&[".git/HEAD"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "`{}` is inside `.git`, which mlops never scans",
                repo.root.join(".git/HEAD").display()
            )
        );
    }

    #[test]
    fn symlink_to_file_is_recorded_at_the_link_path_with_the_target_stamp() {
        let repo = Repo::new();
        let target = repo.write("real/a.csv", b"content");
        fs::create_dir_all(repo.root.join("data")).unwrap();
        symlink(&target, repo.root.join("data/link.csv")).unwrap();
        let scan = repo.scan(&["data"]).unwrap();
        assert_eq!(rel_paths(&scan), ["data/link.csv"]);
        assert_eq!(
            scan.files[0].stamp,
            Stamp::from_metadata(&fs::metadata(&target).unwrap())
        );
        // Named directly, too.
        assert_eq!(
            rel_paths(&repo.scan(&["data/link.csv"]).unwrap()),
            ["data/link.csv"]
        );
    }

    #[test]
    fn directory_and_dangling_symlinks_inside_a_folder_are_skipped() {
        let repo = Repo::new();
        repo.write("data/a.csv", b"1");
        repo.write("other/b.csv", b"2");
        symlink(repo.root.join("other"), repo.root.join("data/dirlink")).unwrap();
        symlink(repo.root.join("nowhere"), repo.root.join("data/dangling")).unwrap();
        let scan = repo.scan(&["data"]).unwrap();
        assert_eq!(rel_paths(&scan), ["data/a.csv"]);
        assert_eq!(
            scan.skipped,
            [
                ("data/dangling".to_string(), SkipReason::DanglingSymlink),
                ("data/dirlink".to_string(), SkipReason::SymlinkToDirectory)
            ]
        );
        assert_eq!(SkipReason::DanglingSymlink.to_string(), "dangling symlink");
    }

    #[test]
    fn named_dangling_or_directory_symlink_is_an_error() {
        let repo = Repo::new();
        repo.write("other/b.csv", b"2");
        symlink(repo.root.join("nowhere"), repo.root.join("dangling")).unwrap();
        symlink(repo.root.join("other"), repo.root.join("dirlink")).unwrap();
        let err = repo.scan(&["dangling"]).unwrap_err();
        let shown = repo.root.join("dangling");
        assert_eq!(
            err.to_string(),
            format!("`{}` is a dangling symlink", shown.display())
        );
        let err = repo.scan(&["dirlink"]).unwrap_err();
        let shown = repo.root.join("dirlink");
        assert_eq!(
            err.to_string(),
            format!(
                "`{}` is a symlink to a directory: name the directory itself",
                shown.display()
            )
        );
    }

    #[test]
    fn fifo_is_skipped_in_a_folder_and_refused_by_name() {
        let repo = Repo::new();
        repo.write("data/a.csv", b"1");
        let made = std::process::Command::new("mkfifo")
            .arg(repo.root.join("data/pipe"))
            .status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("mkfifo unavailable; skipping");
            return;
        }
        let scan = repo.scan(&["data"]).unwrap();
        assert_eq!(
            scan.skipped,
            [("data/pipe".to_string(), SkipReason::NotRegularFile)]
        );
        let err = repo.scan(&["data/pipe"]).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("data/pipe` is not a regular file or directory"),
            "{err}"
        );
    }

    #[test]
    fn input_without_files_is_an_error() {
        let repo = Repo::new();
        repo.write("data/a.csv", b"1");
        fs::create_dir_all(repo.root.join("empty/nested")).unwrap();
        let err = repo.scan(&["data", "empty"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("no files under `{}`", repo.root.join("empty").display())
        );
        // A folder whose only entry is skipped yields no files either.
        fs::create_dir_all(repo.root.join("links")).unwrap();
        symlink(repo.root.join("nowhere"), repo.root.join("links/x")).unwrap();
        assert!(matches!(
            repo.scan(&["links"]),
            Err(ScanError::NoFiles { .. })
        ));
    }

    #[test]
    fn missing_path_is_an_error() {
        let repo = Repo::new();
        let err = repo.scan(&["nope/x.csv"]).unwrap_err();
        assert!(matches!(err, ScanError::NotFound { .. }), "{err}");
        assert!(
            err.to_string().ends_with("nope/x.csv` does not exist"),
            "{err}"
        );
        let err = repo.scan(&["data.csv"]).unwrap_err();
        assert!(
            err.to_string().ends_with("data.csv` does not exist"),
            "{err}"
        );
    }

    #[test]
    fn paths_outside_the_repository_are_refused() {
        let repo = Repo::new();
        let outside = repo.root.parent().unwrap().join("outside.csv");
        fs::write(&outside, b"x").unwrap();
        repo.write("a.csv", b"1");
        let expected = |p: &Path| {
            format!(
                "`{}` is outside the repository `{}`",
                p.display(),
                repo.root.display()
            )
        };
        let err = scan(&repo.root, std::slice::from_ref(&outside)).unwrap_err();
        assert_eq!(err.to_string(), expected(&outside));
        let dotdot = repo.root.join("../outside.csv");
        assert_eq!(
            scan(&repo.root, std::slice::from_ref(&dotdot))
                .unwrap_err()
                .to_string(),
            expected(&dotdot)
        );
        let parent = repo.root.join("..");
        assert_eq!(
            scan(&repo.root, std::slice::from_ref(&parent))
                .unwrap_err()
                .to_string(),
            expected(&parent)
        );
    }

    #[test]
    fn symlinks_out_of_the_repository_are_refused_unless_allowed() {
        let repo = Repo::new();
        let outside = repo.root.parent().unwrap().join("mnt");
        fs::create_dir_all(outside.join("sets")).unwrap();
        fs::write(outside.join("sets/x.csv"), b"x").unwrap();
        repo.write("data/a.csv", b"1");
        symlink(outside.join("sets/x.csv"), repo.root.join("data/out.csv")).unwrap();
        symlink(outside.join("sets"), repo.root.join("mnt")).unwrap();
        let target = outside.join("sets/x.csv").display().to_string();
        for input in ["data", "data/out.csv"] {
            let err = repo.scan(&[input]).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("`data/out.csv` is a symlink to `{target}`, outside the repository")
            );
        }
        let err = repo.scan(&["mnt"]).unwrap_err();
        assert!(matches!(err, ScanError::LinkOutside { .. }), "{err}");
        let err = repo.scan(&["mnt/x.csv"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "`mnt/x.csv` goes through the symlink `mnt` to `{}`, outside the repository",
                outside.join("sets").display()
            )
        );

        let allowed = |inputs: &[&str]| {
            let inputs: Vec<PathBuf> = inputs.iter().map(|i| repo.root.join(i)).collect();
            let options = Options {
                allow_outside: true,
            };
            scan_with_options(&repo.root, &inputs, options).unwrap()
        };
        let marked = |scan: &Scan| {
            scan.files
                .iter()
                .map(|f| (f.rel_path.clone(), f.outside))
                .collect::<Vec<_>>()
        };
        let scan = allowed(&["data", "mnt", "mnt/x.csv"]);
        assert_eq!(
            marked(&scan),
            [
                ("data/a.csv".to_string(), false),
                ("data/out.csv".to_string(), true),
                ("mnt/x.csv".to_string(), true),
            ]
        );
        // What status reads follows them, recording nothing.
        let present = scan_present(&repo.root, &[repo.root.join("data")]).unwrap();
        assert_eq!(marked(&present), marked(&allowed(&["data"])));
        // Outside altogether stays refused.
        let err = scan_with_options(
            &repo.root,
            &[outside.join("sets/x.csv")],
            Options {
                allow_outside: true,
            },
        )
        .unwrap_err();
        assert!(matches!(err, ScanError::OutsideRepo { .. }), "{err}");
    }

    #[test]
    fn non_utf8_names_are_refused() {
        use std::os::unix::ffi::OsStrExt;
        let repo = Repo::new();
        let name = std::ffi::OsStr::from_bytes(b"bad\xffname.csv");
        fs::create_dir_all(repo.root.join("data")).unwrap();
        fs::write(repo.root.join("data").join(name), b"x").unwrap();
        let err = repo.scan(&["data"]).unwrap_err();
        assert!(matches!(err, ScanError::NonUtf8Path { .. }));
        let text = err.to_string();
        assert!(
            text.contains("bad\u{fffd}name.csv` is not valid utf-8: rename it"),
            "{text}"
        );
    }

    #[test]
    fn newlines_and_backslashes_in_names_are_refused() {
        let repo = Repo::new();
        repo.write("data/two\nlines.csv", b"x");
        let err = repo.scan(&["data"]).unwrap_err();
        assert!(
            err.to_string().contains("two\\nlines.csv` has a newline"),
            "{err}"
        );
        let repo = Repo::new();
        repo.write("data/back\\slash", b"x");
        assert!(matches!(
            repo.scan(&["data"]),
            Err(ScanError::UnsupportedName { .. })
        ));
    }

    #[test]
    fn unreadable_folder_is_an_error() {
        use std::os::unix::fs::PermissionsExt;
        let repo = Repo::new();
        repo.write("data/a.csv", b"1");
        let locked = repo.root.join("data/locked");
        repo.write("data/locked/b.csv", b"2");
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        let privileged = fs::read_dir(&locked).is_ok();
        let result = repo.scan(&["data"]);
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
        if privileged {
            eprintln!("running with privileges that ignore permissions; skipping");
            return;
        }
        let err = result.unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read `data/locked`: permission denied"
        );
    }

    #[test]
    fn io_errors_read_in_the_message_style() {
        let err = io::Error::from_raw_os_error(13);
        assert_eq!(describe(&err), "permission denied");
    }
}
