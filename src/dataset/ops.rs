//! What the `data` commands do: add, status, verify, diff, list, show.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::dataset::hash::{self, HashReport};
use crate::dataset::lock::{self, Lock, Pin};
use crate::dataset::manifest::{self, FileEntry, ManifestDiff};
use crate::dataset::scan::{self, ScanError};
use crate::dataset::statcache::StatCache;
use crate::dataset::version::{self, DatasetVersion, ProfileSummary, Version};
use crate::drift::profile::{self, Profile, ProfileDiff};
use crate::error::{Error, Result};
use crate::record::Draft;
use crate::store::{Entity, EntityKind, Store};
use crate::term;

/// At most this many tabular files of one version are profiled.
pub const MAX_PROFILED_FILES: usize = 100;

pub fn scan_error(e: ScanError) -> Error {
    let hint = match &e {
        // Even with `--allow-outside`: a dataset is re-checked (`data status`,
        // `verify`, `track --data`) at the paths it was added from, and a path
        // outside is never recorded. A link inside the repository is.
        ScanError::OutsideRepo { .. } => Some(
            "datasets live inside the repository: copy the data in, or link it in (`ln -s <path> data/`) and add the link with `--allow-outside`".to_string(),
        ),
        ScanError::LinkOutside { .. } | ScanError::ThroughLinkOutside { .. } => {
            Some(crate::outside::link_hint())
        }
        ScanError::NonUtf8Path { .. } | ScanError::UnsupportedName { .. } => {
            Some("rename the file".to_string())
        }
        ScanError::NotFound { .. } => Some("check the path".to_string()),
        _ => None,
    };
    Error::Invalid {
        message: e.to_string(),
        hint,
    }
}

pub fn hash_error(e: hash::HashError) -> Error {
    Error::Invalid {
        message: e.to_string(),
        hint: Some("check that the file is readable and not being written".into()),
    }
}

fn cache_path(store: &Store) -> PathBuf {
    store.git_dir().join("mlops").join("statcache")
}

/// Scans and hashes paths (relative to `cwd`), using and refreshing the stat
/// cache; symlinks out of the repository only when `allow_outside`.
pub fn hash_paths(
    store: &Store,
    cwd: &Path,
    paths: &[PathBuf],
    allow_outside: bool,
    quiet: bool,
) -> Result<(scan::Scan, HashReport)> {
    let abs: Vec<PathBuf> = paths.iter().map(|p| cwd.join(p)).collect();
    let options = scan::Options { allow_outside };
    let scanned = scan::scan_with_options(&store.root(), &abs, options).map_err(scan_error)?;
    let mut cache = Cache::open(store);
    let report = hash_scanned(&scanned, &mut cache.cache, quiet)?;
    cache.save();
    Ok((scanned, report))
}

/// The stat cache of a command, loaded once and saved once however many
/// datasets it hashes.
struct Cache {
    file: PathBuf,
    cache: StatCache,
}

impl Cache {
    fn open(store: &Store) -> Cache {
        let file = cache_path(store);
        Cache {
            cache: StatCache::load(&file),
            file,
        }
    }

    fn save(&self) {
        if self.cache.is_dirty() {
            if let Some(dir) = self.file.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            // Best effort: a cache that cannot be saved only costs the next run time.
            let _ = self.cache.save(&self.file);
        }
    }
}

fn hash_scanned(scanned: &scan::Scan, cache: &mut StatCache, quiet: bool) -> Result<HashReport> {
    let total: u64 = scanned.files.iter().map(|f| f.stamp.size).sum();
    let bar = term::bytes_bar(total, "hashing", quiet);
    let report = hash::hash_files(&scanned.files, cache, &|n| bar.inc(n)).map_err(hash_error)?;
    bar.finish_and_clear();
    Ok(report)
}

/// The name a dataset gets when `--name` is not given: the first path's last
/// component without extension, made ref-safe.
pub fn default_name(paths: &[PathBuf]) -> Option<String> {
    let p = paths.first()?;
    let last = p
        .components()
        .next_back()?
        .as_os_str()
        .to_string_lossy()
        .to_string();
    let stem = Path::new(&last)
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or(last);
    crate::names::from_path_component(&stem)
}

/// `p` (relative to `cwd`) as a `/`-separated path relative to the repository
/// root: where it resolves to, or, when a symlink leads it out of the
/// repository, as written. Never an absolute path, since it is recorded: a
/// path outside altogether (which a scan refuses) is `outside/<name>`.
pub fn rel_to_root(root: &Path, cwd: &Path, p: &Path) -> String {
    let abs = cwd.join(p);
    let canon = abs.canonicalize().unwrap_or(abs);
    let canon_root = root.canonicalize().unwrap_or(root.to_path_buf());
    let written = crate::outside::lexical(cwd, p);
    let s = match canon.strip_prefix(&canon_root) {
        Ok(rel) => rel.to_string_lossy().replace('\\', "/"),
        Err(_) => match crate::outside::below(&written, root, &canon_root) {
            Some(rel) => crate::outside::slash_path(rel),
            None => match written.file_name() {
                Some(name) => format!("{}/{}", crate::outside::PREFIX, name.to_string_lossy()),
                None => crate::outside::PREFIX.to_string(),
            },
        },
    };
    if s.is_empty() {
        ".".into()
    } else {
        s
    }
}

#[derive(Debug, Serialize)]
pub struct AddOutcome {
    pub name: String,
    pub id: String,
    pub unchanged: bool,
    pub version: DatasetVersion,
    pub hashed_files: usize,
    pub hashed_bytes: u64,
    pub cached_files: usize,
    pub seconds: f64,
    pub warnings: Vec<String>,
}

pub fn add(
    store: &Store,
    cwd: &Path,
    paths: &[PathBuf],
    name: Option<&str>,
    source: Option<String>,
    allow_outside: bool,
    quiet: bool,
) -> Result<AddOutcome> {
    if paths.is_empty() {
        return Err(Error::invalid_with_hint(
            "no paths to add",
            "`mlops data add data/train.csv --name train`",
        ));
    }
    let name = match name {
        Some(n) => n.to_string(),
        None => default_name(paths).ok_or_else(|| {
            Error::invalid_with_hint(
                "cannot derive a dataset name from the path",
                "pass `--name <name>`",
            )
        })?,
    };
    let entity = Entity::new(EntityKind::Dataset, &name)?;
    store.identity()?;
    let started = Instant::now();
    let root = store.root();
    let (scanned, report) = hash_paths(store, cwd, paths, allow_outside, quiet)?;
    let mut rel_paths: Vec<String> = paths.iter().map(|p| rel_to_root(&root, cwd, p)).collect();
    rel_paths.sort();
    rel_paths.dedup();
    let entries = report.entries.clone();
    let root_hash = manifest::merkle_root(&entries);
    // What the scan left out is part of the version (paths relative to the
    // repository); problems met while profiling are this machine's, only shown.
    let skipped: Vec<String> = scanned
        .skipped
        .iter()
        .map(|(p, why)| format!("skipped `{p}`: {why}"))
        .collect();
    let mut warnings = skipped.clone();

    let history = store.history(&entity)?;
    let versions = version::versions(&history)?;
    if let Some(latest) = versions.last() {
        if latest.body.root == root_hash && latest.body.paths == rel_paths {
            return unchanged(store, name, latest.clone(), &report, started, warnings);
        }
    }
    // Profiles: reuse the previous version's for files whose bytes did not change.
    let previous: BTreeMap<String, (String, Profile)> = match versions.last() {
        Some(v) => {
            let m = v.manifest(store, &history)?;
            let by_path: BTreeMap<&str, &str> = m
                .iter()
                .map(|e| (e.path.as_str(), e.sha256.as_str()))
                .collect();
            v.profiles(store, &history)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(p, prof)| {
                    by_path
                        .get(p.as_str())
                        .map(|h| (p.clone(), (h.to_string(), prof)))
                })
                .collect()
        }
        None => BTreeMap::new(),
    };
    let mut profiles: BTreeMap<String, Profile> = BTreeMap::new();
    let tabular: Vec<&FileEntry> = entries
        .iter()
        .filter(|e| crate::drift::load::Format::of(Path::new(&e.path)).is_some())
        .collect();
    if tabular.len() > MAX_PROFILED_FILES {
        warnings.push(format!(
            "{} tabular files: only the first {MAX_PROFILED_FILES} were profiled",
            tabular.len()
        ));
    }
    // Profiles keep only what the committed privacy settings allow
    // (docs/privacy.md); one made under other settings, or by an older
    // mlops that kept raw values, is made again.
    let config = crate::config::Config::load(&root)?;
    let policy = config.privacy.clone();
    // The contract first: data that breaks an error-level rule is not
    // recorded at all (docs/monitoring.md).
    let contract = match crate::dataset::contract::of(&config, &name) {
        Some(c) => {
            let files: Vec<(PathBuf, String)> = entries
                .iter()
                .map(|e| (root.join(&e.path), e.path.clone()))
                .collect();
            let checked =
                crate::dataset::contract::Checked::of(crate::dataset::contract::check(&files, c)?)
                    .or_refuse(&name)?;
            warnings.extend(
                checked
                    .violations
                    .iter()
                    .map(|v| format!("contract: {}", v.line())),
            );
            Some(checked)
        }
        None => None,
    };
    for e in tabular.into_iter().take(MAX_PROFILED_FILES) {
        if let Some((h, p)) = previous.get(&e.path) {
            if *h == e.sha256 && p.version == profile::LAYOUT && p.privacy.as_ref() == Some(&policy)
            {
                profiles.insert(e.path.clone(), p.clone());
                continue;
            }
        }
        match profile::profile_file(&root.join(&e.path), &policy) {
            Ok(Some(p)) => {
                profiles.insert(e.path.clone(), p);
            }
            Ok(None) => {}
            Err(err) => warnings.push(format!("`{}` was not profiled: {err}", e.path)),
        }
    }
    let bytes: u64 = entries.iter().map(|e| e.size).sum();
    let mut draft = Draft::new(
        version::KIND,
        version::SCHEMA,
        format!(
            "dataset {name}: {} file(s), {} bytes, root {}",
            entries.len(),
            bytes,
            &root_hash[..12]
        ),
    );
    let (manifest_inline, manifest_blob) = if entries.len() <= version::INLINE_FILES {
        (Some(entries.clone()), None)
    } else {
        (None, Some(draft.attach(version::manifest_bytes(&entries))))
    };
    let profiles_blob = if profiles.is_empty() {
        None
    } else {
        Some(draft.attach(version::profiles_bytes(&profiles)?))
    };
    let body = DatasetVersion {
        name: name.clone(),
        paths: rel_paths,
        file_count: entries.len() as u64,
        bytes,
        root: root_hash,
        manifest: manifest_inline,
        manifest_blob,
        profiles: profiles
            .iter()
            .map(|(p, prof)| ProfileSummary {
                path: p.clone(),
                rows: prof.rows,
                columns: prof.columns.len(),
            })
            .collect(),
        profiles_blob,
        source: source.as_deref().map(crate::redact::free_text),
        skipped,
        contract,
    };
    let draft = draft.with_body(&body)?;
    // Another `data add` of the same files may have landed since the history
    // was read: the unchanged check is repeated on the tip being extended,
    // so concurrent adds record one version, not one each.
    let seen = history.tip;
    let appended = store.append(&entity, |tip| {
        if tip.commit != seen {
            let history = tip.history()?;
            if let Some(latest) = version::versions(&history)?.pop() {
                if latest.body.root == body.root && latest.body.paths == body.paths {
                    return Ok(ControlFlow::Break(latest));
                }
            }
        }
        Ok(ControlFlow::Continue(draft.clone()))
    })?;
    let record = match appended {
        ControlFlow::Continue(record) => record,
        // Recorded by a concurrent writer since the history was read.
        ControlFlow::Break(latest) => {
            return unchanged(store, name, latest, &report, started, warnings)
        }
    };
    let v = Version {
        record: record.clone(),
        body: body.clone(),
    };
    pin(store, &name, &v)?;
    Ok(AddOutcome {
        name,
        id: record.id().to_string(),
        unchanged: false,
        version: body,
        hashed_files: report.hashed_files,
        hashed_bytes: report.hashed_bytes,
        cached_files: report.cached_files,
        seconds: started.elapsed().as_secs_f64(),
        warnings,
    })
}

/// The files are already the latest version: pin it, record nothing.
fn unchanged(
    store: &Store,
    name: String,
    latest: Version,
    report: &HashReport,
    started: Instant,
    warnings: Vec<String>,
) -> Result<AddOutcome> {
    pin(store, &name, &latest)?;
    Ok(AddOutcome {
        name,
        id: latest.record.id().to_string(),
        unchanged: true,
        version: latest.body,
        hashed_files: report.hashed_files,
        hashed_bytes: report.hashed_bytes,
        cached_files: report.cached_files,
        seconds: started.elapsed().as_secs_f64(),
        warnings,
    })
}

fn pin(store: &Store, name: &str, v: &Version) -> Result<()> {
    if store.is_bare() {
        return Ok(());
    }
    lock::update(&store.root(), &store.git_dir(), |l| {
        l.datasets.insert(
            name.to_string(),
            Pin {
                paths: v.body.paths.clone(),
                version: v.record.id().to_string(),
                root: v.body.root.clone(),
                files: v.body.file_count,
                bytes: v.body.bytes,
            },
        );
        Ok(())
    })
}

/// A dataset's pinned version, read from the store.
pub fn pinned_version(
    store: &Store,
    name: &str,
    pin: &Pin,
) -> Result<(crate::store::History, Version)> {
    let entity = Entity::new(EntityKind::Dataset, name)?;
    let history = store.history(&entity)?;
    let versions = version::versions(&history)?;
    let v = versions
        .into_iter()
        .find(|v| v.record.id() == pin.version)
        .ok_or_else(|| {
            Error::invalid_with_hint(
                format!("`{}` pins version `{}` of `{name}`, which this repository does not have", lock::FILE_NAME, pin.version),
                "fetch the records (`git fetch origin 'refs/mlops/*:refs/mlops/*'`) or re-add the data",
            )
        })?;
    Ok((history, v))
}

#[derive(Debug, Serialize)]
pub struct DatasetStatus {
    pub name: String,
    pub version: String,
    #[serde(flatten)]
    pub diff: ManifestDiff,
    pub clean: bool,
}

/// Working files against `mlops.lock`.
pub fn status(store: &Store, only: Option<&str>, quiet: bool) -> Result<Vec<DatasetStatus>> {
    let root = store.root();
    let lock = Lock::load(&root)?;
    if let Some(n) = only {
        if !lock.datasets.contains_key(n) {
            return Err(Error::invalid_with_hint(
                format!("dataset `{n}` is not pinned in `{}`", lock::FILE_NAME),
                "`mlops data add <path> --name <name>` pins it",
            ));
        }
    }
    let mut cache = Cache::open(store);
    let mut out = Vec::new();
    for (name, pin) in &lock.datasets {
        if only.is_some_and(|n| n != name) {
            continue;
        }
        // Each pinned path on its own terms: one that is gone or emptied
        // contributes no files (they show as removed), the others are hashed.
        let existing: Vec<PathBuf> = pin
            .paths
            .iter()
            .map(|p| root.join(p))
            .filter(|p| p.exists())
            .collect();
        let scanned = scan::scan_present(&root, &existing).map_err(scan_error)?;
        let current = hash_scanned(&scanned, &mut cache.cache, quiet)?.entries;
        // Same root as the pin: clean, without reading the recorded manifest
        // (a large one is megabytes to inflate and parse).
        let diff = if manifest::merkle_root(&current) == pin.root && !current.is_empty() {
            manifest::ManifestDiff::default()
        } else {
            let (history, v) = pinned_version(store, name, pin)?;
            manifest::diff(&v.manifest(store, &history)?, &current)
        };
        let clean = diff.is_empty();
        out.push(DatasetStatus {
            name: name.clone(),
            version: pin.version.clone(),
            diff,
            clean,
        });
    }
    cache.save();
    Ok(out)
}

#[derive(Debug, Serialize)]
pub struct Mismatch {
    pub path: String,
    pub expected: String,
    /// `None` when the file is missing.
    pub actual: Option<String>,
}

/// Re-hashes every file of a version (no cache) against its manifest.
pub fn verify(
    store: &Store,
    name: &str,
    selector: Option<&str>,
    quiet: bool,
) -> Result<(Version, Vec<Mismatch>)> {
    let entity = Entity::new(EntityKind::Dataset, name)?;
    let history = store.history(&entity)?;
    if history.is_empty() {
        return Err(Error::invalid_with_hint(
            format!("dataset `{name}` does not exist"),
            "`mlops data list` shows the datasets",
        ));
    }
    let versions = version::versions(&history)?;
    let selector = match selector {
        Some(s) => Some(s.to_string()),
        None => Lock::load(&store.root())?
            .datasets
            .get(name)
            .map(|p| p.version.clone()),
    };
    let v = version::select(name, &versions, selector.as_deref())?.clone();
    let files = v.manifest(store, &history)?;
    let root = store.root();
    let total: u64 = files.iter().map(|f| f.size).sum();
    let bar = term::bytes_bar(total, "verifying", quiet);
    use rayon::prelude::*;
    let mut mismatches: Vec<Mismatch> = files
        .par_iter()
        .filter_map(|f| {
            let path = root.join(&f.path);
            match hash::sha256_file(&path) {
                Ok((h, n)) => {
                    bar.inc(n);
                    (h != f.sha256).then(|| Mismatch {
                        path: f.path.clone(),
                        expected: f.sha256.clone(),
                        actual: Some(h),
                    })
                }
                Err(_) => Some(Mismatch {
                    path: f.path.clone(),
                    expected: f.sha256.clone(),
                    actual: None,
                }),
            }
        })
        .collect();
    bar.finish_and_clear();
    mismatches.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((v, mismatches))
}

#[derive(Debug, Serialize)]
pub struct VersionDiff {
    pub from: String,
    pub to: String,
    #[serde(flatten)]
    pub files: ManifestDiff,
    /// Row and column changes of tabular files present in both.
    pub tables: BTreeMap<String, ProfileDiff>,
}

/// `name[@v]` → (name, selector).
pub fn split_spec(spec: &str) -> (&str, Option<&str>) {
    match spec.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (spec, None),
    }
}

pub fn diff(store: &Store, a: &str, b: Option<&str>) -> Result<VersionDiff> {
    let (name_a, sel_a) = split_spec(a);
    let (hist_a, vers_a) = versions_of(store, name_a)?;
    let (old, new, hist_b) = match b {
        None => {
            let to = version::select(name_a, &vers_a, sel_a)?;
            let i = vers_a
                .iter()
                .position(|v| v.record.id() == to.record.id())
                .expect("selected from the list");
            if i == 0 {
                return Err(Error::invalid_with_hint(
                    format!("`{a}` is the first version of `{name_a}`: there is nothing before it"),
                    format!("compare two versions: `mlops data diff {name_a}@1 {name_a}@2`"),
                ));
            }
            (vers_a[i - 1].clone(), to.clone(), None)
        }
        Some(b) => {
            let (name_b, sel_b) = split_spec(b);
            let old = version::select(name_a, &vers_a, sel_a)?.clone();
            if name_b == name_a {
                (old, version::select(name_b, &vers_a, sel_b)?.clone(), None)
            } else {
                let (hist_b, vers_b) = versions_of(store, name_b)?;
                let new = version::select(name_b, &vers_b, sel_b)?.clone();
                (old, new, Some(hist_b))
            }
        }
    };
    let new_hist = hist_b.as_ref().unwrap_or(&hist_a);
    let files = manifest::diff(
        &old.manifest(store, &hist_a)?,
        &new.manifest(store, new_hist)?,
    );
    let pa = old.profiles(store, &hist_a)?;
    let pb = new.profiles(store, new_hist)?;
    let tables = pa
        .iter()
        .filter_map(|(path, p)| pb.get(path).map(|q| (path.clone(), profile::diff(p, q))))
        .collect();
    Ok(VersionDiff {
        from: old.record.id().to_string(),
        to: new.record.id().to_string(),
        files,
        tables,
    })
}

#[derive(Debug, Serialize)]
pub struct DatasetSummary {
    pub name: String,
    pub versions: usize,
    pub latest: String,
    pub created_at: String,
    pub files: u64,
    pub bytes: u64,
    pub pinned: Option<String>,
}

pub fn list(store: &Store) -> Result<Vec<DatasetSummary>> {
    let lock = if store.is_bare() {
        Lock::default()
    } else {
        Lock::load(&store.root())?
    };
    let mut out = Vec::new();
    for e in store.entities(Some(EntityKind::Dataset))? {
        let h = store.history(&e)?;
        let vs = version::versions(&h)?;
        let Some(latest) = vs.last() else { continue };
        out.push(DatasetSummary {
            name: e.name.clone(),
            versions: vs.len(),
            latest: latest.record.id().to_string(),
            created_at: latest.record.created_at().to_string(),
            files: latest.body.file_count,
            bytes: latest.body.bytes,
            pinned: lock.datasets.get(&e.name).map(|p| p.version.clone()),
        });
    }
    Ok(out)
}

/// The versions of one dataset, oldest first, with their history.
pub fn versions_of(store: &Store, name: &str) -> Result<(crate::store::History, Vec<Version>)> {
    let entity = Entity::new(EntityKind::Dataset, name)?;
    let history = store.history(&entity)?;
    let vs = version::versions(&history)?;
    if vs.is_empty() {
        return Err(Error::invalid_with_hint(
            format!("dataset `{name}` does not exist"),
            "`mlops data list` shows the datasets",
        ));
    }
    Ok((history, vs))
}
