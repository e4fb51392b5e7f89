//! `mlops data add|status|diff|list|show|verify`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::{print_json, Globals};
use crate::dataset::{ops, version};
use crate::term;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    sub: Sub,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// Hash files or folders, record a dataset version and pin it in mlops.lock.
    Add(AddArgs),
    /// Working files against mlops.lock; exit 1 when something differs.
    Status(StatusArgs),
    /// Files (and rows/columns of tables) that changed between two versions.
    Diff(DiffArgs),
    /// Every dataset with its latest version.
    List,
    /// A dataset's versions, or one version in detail (`name@v`).
    Show(ShowArgs),
    /// Re-hash the files on disk against a recorded version; exit 1 on mismatch.
    Verify(VerifyArgs),
    /// Check data against its contract in mlops.toml; exit 1 naming each
    /// error-level violation.
    Check(CheckArgs),
}

#[derive(clap::Args, Debug)]
struct CheckArgs {
    /// A dataset with a contract (its files as pinned in mlops.lock), or
    /// files to check against `--contract`.
    #[arg(required = true)]
    targets: Vec<PathBuf>,
    /// The dataset whose contract applies to the files given.
    #[arg(long, value_name = "DATASET")]
    contract: Option<String>,
}

#[derive(clap::Args, Debug)]
struct AddArgs {
    /// Files or folders inside the repository.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The dataset's name (default: the first path's name).
    #[arg(long)]
    name: Option<String>,
    /// Where the data came from (a query, a vendor drop, a URL).
    #[arg(long)]
    source: Option<String>,
    /// Follow symlinks out of the repository (`data -> /mnt/datasets`): the
    /// target's content is hashed and profiled under the link's path, marked
    /// `outside`; where it points is never recorded.
    #[arg(long)]
    allow_outside: bool,
}

#[derive(clap::Args, Debug)]
struct StatusArgs {
    /// Only this dataset.
    name: Option<String>,
}

#[derive(clap::Args, Debug)]
struct DiffArgs {
    /// `name[@version]`; alone, compared with the version before it.
    from: String,
    /// `name@version` to compare with.
    to: Option<String>,
}

#[derive(clap::Args, Debug)]
struct ShowArgs {
    /// `name` or `name@version` (`latest`, `3`, or an id prefix).
    spec: String,
}

#[derive(clap::Args, Debug)]
struct VerifyArgs {
    /// `name` or `name@version` (default: the version pinned in mlops.lock).
    spec: String,
}

pub fn run(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    match args.sub {
        Sub::Add(a) => {
            let out = ops::add(
                &store,
                &g.dir,
                &a.paths,
                a.name.as_deref(),
                a.source,
                a.allow_outside,
                g.quiet,
            )?;
            if g.json {
                print_json(&out)?;
            } else if !g.quiet {
                for w in &out.warnings {
                    eprintln!("warning: {w}");
                }
                if out.unchanged {
                    crate::outln!(
                        "dataset {} unchanged: {} file(s), {} bytes, already recorded as {}",
                        out.name,
                        out.version.file_count,
                        out.version.bytes,
                        out.id
                    );
                } else {
                    crate::outln!(
                        "dataset {}: {} file(s), {} bytes, root {} recorded as {}",
                        out.name,
                        out.version.file_count,
                        out.version.bytes,
                        out.version.root,
                        out.id
                    );
                }
                crate::outln!("hashed {} file(s) ({} bytes), {} unchanged from the cache, in {:.2}s; pinned in mlops.lock", out.hashed_files, out.hashed_bytes, out.cached_files, out.seconds);
            }
            Ok(ExitCode::SUCCESS)
        }
        Sub::Check(a) => check(g, a),
        Sub::Status(a) => {
            let st = ops::status(&store, a.name.as_deref(), g.quiet)?;
            let clean = st.iter().all(|s| s.clean);
            if g.json {
                print_json(&st)?;
            } else if st.is_empty() {
                crate::outln!("no datasets are pinned in mlops.lock");
            } else {
                for s in &st {
                    if s.clean {
                        crate::outln!("{}: clean", s.name);
                        continue;
                    }
                    crate::outln!(
                        "{}: changed since {}",
                        s.name,
                        &s.version[..19.min(s.version.len())]
                    );
                    for f in &s.diff.added {
                        crate::outln!("  added:    {}", f.path);
                    }
                    for f in &s.diff.removed {
                        crate::outln!("  removed:  {}", f.path);
                    }
                    for (old, _) in &s.diff.modified {
                        crate::outln!("  modified: {}", old.path);
                    }
                }
            }
            Ok(if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Sub::Diff(a) => {
            let d = ops::diff(&store, &a.from, a.to.as_deref())?;
            if g.json {
                print_json(&d)?;
            } else {
                crate::outln!("{} → {}", d.from, d.to);
                if d.files.is_empty() {
                    crate::outln!("no file changes");
                }
                for f in &d.files.added {
                    crate::outln!("  added:    {} ({} bytes)", f.path, f.size);
                }
                for f in &d.files.removed {
                    crate::outln!("  removed:  {} ({} bytes)", f.path, f.size);
                }
                for (old, new) in &d.files.modified {
                    crate::outln!(
                        "  modified: {} ({} → {} bytes)",
                        old.path,
                        old.size,
                        new.size
                    );
                }
                for (path, t) in &d.tables {
                    crate::outln!("  table {path}: {}", summarize_profile_diff(t));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Sub::List => {
            let l = ops::list(&store)?;
            if g.json {
                print_json(&l)?;
            } else if l.is_empty() {
                crate::outln!("no datasets");
            } else {
                let rows = l
                    .iter()
                    .map(|d| {
                        vec![
                            d.name.clone(),
                            d.versions.to_string(),
                            crate::record::short(&d.latest).to_string(),
                            d.files.to_string(),
                            d.bytes.to_string(),
                            d.created_at.clone(),
                            match &d.pinned {
                                Some(p) if p == &d.latest => "latest".into(),
                                Some(p) => crate::record::short(p).to_string(),
                                None => "—".into(),
                            },
                        ]
                    })
                    .collect();
                crate::outln!(
                    "{}",
                    term::table(
                        &["dataset", "versions", "latest", "files", "bytes", "recorded", "pinned"],
                        rows
                    )
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Sub::Show(a) => {
            let (name, sel) = ops::split_spec(&a.spec);
            let (history, vs) = ops::versions_of(&store, name)?;
            if sel.is_none() {
                if g.json {
                    let out: Vec<_> = vs.iter().map(|v| serde_json::json!({"id": v.record.id(), "created_at": v.record.created_at(), "actor": v.record.actor(), "version": v.body})).collect();
                    print_json(&out)?;
                } else {
                    let rows = vs
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            vec![
                                (i + 1).to_string(),
                                v.record.short_id().to_string(),
                                v.record.created_at().to_string(),
                                v.record.actor().to_string(),
                                v.body.file_count.to_string(),
                                v.body.bytes.to_string(),
                                v.body
                                    .profiles
                                    .iter()
                                    .map(|p| format!("{}: {} rows", p.path, p.rows))
                                    .collect::<Vec<_>>()
                                    .join("; "),
                            ]
                        })
                        .collect();
                    crate::outln!(
                        "{}",
                        term::table(
                            &["#", "id", "recorded", "by", "files", "bytes", "tables"],
                            rows
                        )
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
            let v = version::select(name, &vs, sel)?;
            let manifest = v.manifest(&store, &history)?;
            let profiles = v.profiles(&store, &history)?;
            if g.json {
                print_json(
                    &serde_json::json!({"id": v.record.id(), "created_at": v.record.created_at(), "actor": v.record.actor(), "version": v.body, "files": manifest, "profiles": profiles}),
                )?;
            } else {
                crate::outln!("dataset   {}", v.body.name);
                crate::outln!("version   {}", v.record.id());
                crate::outln!(
                    "recorded  {} by {}",
                    v.record.created_at(),
                    v.record.actor()
                );
                crate::outln!("paths     {}", v.body.paths.join(", "));
                crate::outln!("files     {} ({} bytes)", v.body.file_count, v.body.bytes);
                crate::outln!("root      {}", v.body.root);
                if let Some(s) = &v.body.source {
                    crate::outln!("source    {s}");
                }
                crate::outln!();
                for f in manifest.iter().take(20) {
                    crate::outln!("  {}  {}  {}", f.sha256, f.size, f.path);
                }
                if manifest.len() > 20 {
                    crate::outln!("  … {} more (--json lists all)", manifest.len() - 20);
                }
                for (path, p) in &profiles {
                    crate::outln!("\n{path}: {} rows", p.rows);
                    let rows = p
                        .columns
                        .iter()
                        .map(|c| {
                            vec![
                                c.name.clone(),
                                format!("{:?}", c.dtype).to_lowercase(),
                                c.null_share
                                    .map(|x| format!("{:.1}%", 100.0 * x))
                                    .unwrap_or_default(),
                                c.distinct.to_string(),
                                match &c.protected {
                                    Some(p) => format!("protected: {}", p.reason),
                                    None => String::new(),
                                } + &c
                                    .numeric
                                    .as_ref()
                                    .map(|n| {
                                        format!(
                                            "{} .. {} (mean {})",
                                            crate::run::query::short_number(n.min),
                                            crate::run::query::short_number(n.max),
                                            crate::run::query::short_number(n.mean)
                                        )
                                    })
                                    .unwrap_or_else(|| {
                                        c.categories
                                            .as_ref()
                                            .map(|k| {
                                                k.top
                                                    .iter()
                                                    .take(3)
                                                    .map(|(v, n)| format!("{v}: {n}"))
                                                    .collect::<Vec<_>>()
                                                    .join(", ")
                                            })
                                            .unwrap_or_default()
                                    }),
                            ]
                        })
                        .collect();
                    crate::outln!(
                        "{}",
                        term::table(&["column", "type", "nulls", "distinct", "values"], rows)
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Sub::Verify(a) => {
            let (name, sel) = ops::split_spec(&a.spec);
            let (v, bad) = ops::verify(&store, name, sel, g.quiet)?;
            if g.json {
                print_json(
                    &serde_json::json!({"dataset": name, "version": v.record.id(), "ok": bad.is_empty(), "mismatches": bad}),
                )?;
            } else if bad.is_empty() {
                crate::outln!(
                    "{name}: all {} file(s) match {}",
                    v.body.file_count,
                    v.record.id()
                );
            } else {
                for m in &bad {
                    match &m.actual {
                        Some(h) => {
                            crate::outln!("MISMATCH {}: expected {}, found {h}", m.path, m.expected)
                        }
                        None => crate::outln!("MISSING  {}: expected {}", m.path, m.expected),
                    }
                }
                crate::outln!(
                    "{name}: {} of {} file(s) do not match {}",
                    bad.len(),
                    v.body.file_count,
                    v.record.id()
                );
            }
            Ok(if bad.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn summarize_profile_diff(d: &crate::drift::profile::ProfileDiff) -> String {
    let mut parts = vec![format!("rows {} → {}", d.rows.0, d.rows.1)];
    if !d.added.is_empty() {
        parts.push(format!("new columns: {}", d.added.join(", ")));
    }
    if !d.removed.is_empty() {
        parts.push(format!("removed columns: {}", d.removed.join(", ")));
    }
    for (c, a, b) in &d.retyped {
        parts.push(format!("`{c}` {a:?} → {b:?}"));
    }
    parts.join("; ")
}

fn check(g: &Globals, a: CheckArgs) -> anyhow::Result<ExitCode> {
    use crate::dataset::contract;
    let store = g.store()?;
    let root = store.root();
    let config = crate::config::Config::load(&root)?;
    let single = a.targets[0].to_string_lossy().to_string();
    let (dataset, files): (String, Vec<(PathBuf, String)>) = match &a.contract {
        Some(d) => {
            // Files named on the command line are checked as named, and
            // each must be a data file: a folder or a `.txt` checked as
            // "nothing wrong" would be a pass that checked nothing.
            let mut files = Vec::new();
            for p in &a.targets {
                let full = g.dir.join(p);
                if !full.is_file() || crate::drift::Format::of(&full).is_none() {
                    return Err(crate::Error::invalid_with_hint(
                        format!("`{}` is not a CSV, TSV, Parquet or NDJSON file", p.display()),
                        "name the data files to check; a pinned dataset is checked by its name alone",
                    )
                    .into());
                }
                files.push((full, p.display().to_string()));
            }
            (d.clone(), files)
        }
        None if a.targets.len() == 1 && !g.dir.join(&a.targets[0]).exists() => {
            let lock = crate::dataset::lock::Lock::load(&root)?;
            let pin = lock.datasets.get(&single).ok_or_else(|| {
                crate::Error::invalid_with_hint(
                    format!("`{single}` is neither a file nor a dataset pinned in mlops.lock"),
                    "`mlops data add <files> --name <dataset>` pins one; or pass files with `--contract <dataset>`",
                )
            })?;
            // The same scan as `data add`: symlinks out of the repository
            // are refused, not followed.
            let paths: Vec<PathBuf> = pin.paths.iter().map(|p| root.join(p)).collect();
            let scanned = crate::dataset::scan::scan_with_options(
                &root,
                &paths,
                crate::dataset::scan::Options {
                    allow_outside: false,
                },
            )
            .map_err(ops::scan_error)?;
            let files: Vec<(PathBuf, String)> = scanned
                .files
                .into_iter()
                .filter(|f| crate::drift::Format::of(&f.abs_path).is_some())
                .map(|f| (f.abs_path, f.rel_path))
                .collect();
            if files.is_empty() {
                return Err(crate::Error::invalid_with_hint(
                    format!("dataset `{single}` has no CSV, TSV, Parquet or NDJSON file to check"),
                    "a contract applies to tabular files",
                )
                .into());
            }
            (single.clone(), files)
        }
        None => {
            return Err(crate::Error::invalid_with_hint(
                "`mlops data check <files>` needs `--contract <dataset>`",
                "name the dataset whose contract applies, or pass the dataset's name alone",
            )
            .into())
        }
    };
    let c = contract::of(&config, &dataset).ok_or_else(|| {
        crate::Error::invalid_with_hint(
            format!("dataset `{dataset}` has no contract in mlops.toml"),
            format!("add `[datasets.{dataset}.contract]` (docs/monitoring.md)"),
        )
    })?;
    let checked = contract::Checked::of(contract::check(&files, c)?);
    if g.json {
        print_json(&serde_json::json!({"dataset": dataset, "check": checked}))?;
    } else {
        for v in &checked.violations {
            crate::outln!("{}", v.line());
        }
        crate::outln!(
            "{dataset}: {} error(s), {} warning(s) in {} file(s)",
            checked.errors,
            checked.warnings,
            files.len()
        );
    }
    Ok(ExitCode::from(u8::from(checked.errors > 0)))
}
