//! `mlops track`: everything is checked before the command starts (repository,
//! identity, params, input data), because a three-hour training run that
//! cannot be recorded at the end is three hours lost. Everything taken from
//! the user's text (command line, params, tags, note, name, environment)
//! passes through `redact` before it is written anywhere, the run's own
//! marker included: records are pushed, and a secret in one is permanent.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::time::Instant;

use rand::Rng;
use serde_json::Value;

use crate::config::Config;
use crate::context;
use crate::error::{Error, Result};
use crate::record::{Draft, Record};
use crate::redact::Redactor;
use crate::run::metrics::Collected;
use crate::run::record::{Artifact, Input, RunRecord, Status, AMENDMENT, KIND, SCHEMA};
use crate::run::{active, child, code, dvclive, environment, params};
use crate::store::{Entity, EntityKind, Store};

pub struct TrackOptions {
    pub name: Option<String>,
    pub experiment: String,
    pub params: Vec<(String, Value)>,
    pub params_file: Option<PathBuf>,
    /// `(role, dataset name or path)`.
    pub data: Vec<(String, String)>,
    pub artifacts: Vec<PathBuf>,
    pub tags: BTreeMap<String, String>,
    pub note: Option<String>,
    pub env: Vec<String>,
    pub command: Vec<String>,
    /// Record no command line at all (`--no-command`): for commands whose
    /// arguments hold secrets no detector can recognise.
    pub no_command: bool,
    /// Where the command runs (the user's current directory).
    pub cwd: PathBuf,
    pub quiet: bool,
    /// `--allow-outside`: data and artifacts may lead out of the repository.
    pub allow_outside: bool,
}

pub struct Tracked {
    pub record: Record,
    pub run: RunRecord,
    /// What mlops exits with: the command's own exit code (128 + n for a signal).
    pub exit_code: i32,
}

/// A sortable run id: UTC time to the second, then 24 random bits.
pub fn new_run_id() -> String {
    let t = context::now();
    let r: u32 = rand::rng().random_range(0..1 << 24);
    format!("{}-{r:06x}", t.format("%Y%m%d-%H%M%S"))
}

pub fn track(store: &Store, config: &Config, opts: TrackOptions) -> Result<Tracked> {
    if opts.command.is_empty() {
        return Err(Error::invalid_with_hint(
            "no command to track",
            "write it after `--`: `mlops track -- python train.py`",
        ));
    }
    store.identity()?;
    if let Some(n) = &opts.name {
        if n.trim().is_empty() {
            return Err(Error::invalid("`--name` is empty"));
        }
    }
    crate::names::validate(&opts.experiment).map_err(|_| {
        Error::invalid_with_hint(
            format!("`--experiment {}` is not a valid name", opts.experiment),
            "use letters, digits, `.`, `_` and `-`",
        )
    })?;
    let root = store.root();
    let redactor = Redactor::new(&context::vars());
    let mut redacted = Vec::new();
    let command = if opts.no_command {
        Vec::new()
    } else {
        redactor.command(&opts.command, &mut redacted)
    };
    let name = opts.name.as_deref().map(|n| match redactor.text(n) {
        Some(r) => {
            redacted.push("name".to_string());
            r
        }
        None => n.to_string(),
    });
    let mut run_params = match &opts.params_file {
        Some(p) => params::read_file(&opts.cwd.join(p))?,
        None => BTreeMap::new(),
    };
    for (k, v) in &opts.params {
        run_params.insert(k.clone(), v.clone());
    }
    // Paths that lead out of the repository are refused before any input
    // records a dataset version (docs/privacy.md, "Paths").
    for (_, spec) in &opts.data {
        crate::run::inputs::check(store, &opts.cwd, spec, opts.allow_outside)?;
    }
    for p in &opts.artifacts {
        crate::run::artifacts::check(&opts.cwd, &root, p, opts.allow_outside)?;
    }
    let mut inputs: Vec<Input> = Vec::new();
    for (role, spec) in &opts.data {
        inputs.push(crate::run::inputs::resolve(
            store,
            &opts.cwd,
            role,
            spec,
            opts.allow_outside,
            opts.quiet,
        )?);
    }

    let run_id = new_run_id();
    let entity = Entity::new(EntityKind::Run, &run_id)?;
    let work = active::runs_dir(&store.git_dir()).join(&run_id);
    std::fs::create_dir_all(&work)
        .map_err(|e| Error::io("cannot create the run's folder in .git/mlops", e))?;
    let metrics_path = work.join("metrics.jsonl");
    std::fs::write(&metrics_path, b"")
        .map_err(|e| Error::io("cannot create the metrics file", e))?;
    let started_at = context::now_timestamp();
    active::write_marker(
        &work,
        &active::Marker {
            run_id: run_id.clone(),
            name: name.clone(),
            experiment: opts.experiment.clone(),
            started_at: started_at.clone(),
            command: command.clone(),
            pid: std::process::id(),
        },
    )?;

    let code = code::capture(&root);
    // Probing interpreters (`python3 --version`, possibly behind a pyenv
    // shim: ~150 ms) runs beside the command, not before it.
    let mut requested_env = config.tracking.env.clone();
    requested_env.extend(opts.env.iter().cloned());
    let env_redactor = redactor.clone();
    let env_probe = std::thread::spawn(move || environment::capture(&requested_env, &env_redactor));
    let dvclive_before = dvclive::Before::take(&opts.cwd);
    let clock = Instant::now();
    let finished = child::run(
        &opts.command,
        &opts.cwd,
        &[
            ("MLOPS_RUN_ID", run_id.clone()),
            ("MLOPS_METRICS", metrics_path.display().to_string()),
            ("MLOPS_EXPERIMENT", opts.experiment.clone()),
        ],
    )
    .inspect_err(|_| {
        // Never started: nothing ran, so nothing is under way or interrupted.
        let _ = std::fs::remove_dir_all(&work);
    })?;
    let duration_s = clock.elapsed().as_secs_f64();
    let env_info = env_probe.join().ok();
    let ended_at = context::now_timestamp();

    let mut collected = Collected::default();
    collected
        .read_file(&metrics_path)
        .map_err(|e| Error::io("cannot read the metrics file", e))?;
    dvclive::read(&opts.cwd, &dvclive_before, &mut collected);
    for (k, v) in std::mem::take(&mut collected.params) {
        run_params.entry(k).or_insert(v);
    }
    let mut tags = std::mem::take(&mut collected.tags);
    tags.extend(opts.tags.clone());
    redactor.params("params", &mut run_params, &mut redacted);
    redactor.tags(&mut tags, &mut redacted);
    let notes = opts.note.as_deref().map(|n| match redactor.text(n) {
        Some(r) => {
            redacted.push("notes".to_string());
            r
        }
        None => n.to_string(),
    });
    let mut warnings = std::mem::take(&mut collected.warnings);
    let environment = match env_info {
        Some(captured) => {
            redacted.extend(captured.redacted);
            warnings.extend(captured.warnings);
            captured.environment
        }
        None => Default::default(),
    };
    let artifacts = hash_artifacts(&opts, &root, &mut warnings)?;

    let signal = finished.status.signal().or(finished.received);
    let exit_code = finished.status.code();
    let status = if signal.is_some() {
        Status::Killed
    } else if finished.status.success() {
        Status::Finished
    } else {
        Status::Failed
    };
    let mut draft = Draft::new(
        KIND,
        SCHEMA,
        format!(
            "run {run_id} {}{}",
            status.as_str(),
            name.as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ),
    );
    let metric_history = collected.history_blob().map(|b| draft.attach(b));
    let run = RunRecord {
        run_id: run_id.clone(),
        name,
        experiment: opts.experiment.clone(),
        status,
        started_at,
        ended_at,
        duration_s: (duration_s * 1000.0).round() / 1000.0,
        command,
        exit_code,
        signal,
        params: run_params,
        metrics: collected.summaries(&config.tracking.summary),
        metric_history,
        code: Some(code),
        environment,
        inputs,
        artifacts,
        tags,
        notes,
        warnings,
        redacted,
    };
    let draft = draft.with_body(&run)?;
    let record = store.append_draft(&entity, &draft)?;
    let _ = std::fs::remove_dir_all(&work);
    let exit = match (exit_code, signal) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        (None, None) => 1,
    };
    Ok(Tracked {
        record,
        run,
        exit_code: exit,
    })
}

fn hash_artifacts(
    opts: &TrackOptions,
    root: &std::path::Path,
    warnings: &mut Vec<String>,
) -> Result<Vec<Artifact>> {
    let mut out = Vec::new();
    for p in &opts.artifacts {
        out.extend(crate::run::artifacts::hash_produced(
            &opts.cwd,
            root,
            p,
            opts.allow_outside,
            warnings,
        )?);
    }
    Ok(out)
}

/// `mlops track log`: appends to the current run's metrics file, for shell
/// scripts inside a tracked run.
pub fn log_line(
    metrics: &[(String, f64)],
    step: Option<i64>,
    run_params: &[(String, Value)],
) -> Result<()> {
    let path = context::var("MLOPS_METRICS").ok_or_else(|| {
        Error::invalid_with_hint(
            "`mlops track log` runs only inside a tracked run (`MLOPS_METRICS` is not set)",
            "start the script with `mlops track -- ./train.sh`",
        )
    })?;
    let mut obj = serde_json::Map::new();
    if let Some(s) = step {
        obj.insert("step".into(), s.into());
    }
    for (k, v) in metrics {
        obj.insert(k.clone(), Value::from(crate::record::finite(k, *v)?));
    }
    if !run_params.is_empty() {
        obj.insert(
            "params".into(),
            Value::Object(run_params.iter().cloned().collect()),
        );
    }
    obj.insert("time".into(), context::now_timestamp().into());
    let mut line = serde_json::to_vec(&Value::Object(obj)).expect("JSON");
    line.push(b'\n');
    use std::io::Write;
    // One write with O_APPEND: lines from parallel writers never interleave.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(|e| Error::io(format!("cannot open the metrics file `{path}`"), e))?;
    f.write_all(&line)
        .map_err(|e| Error::io(format!("cannot write the metrics file `{path}`"), e))?;
    Ok(())
}

/// Records a later metric, tag or note on a finished run as its own event.
pub fn amend(
    store: &Store,
    run_id: &str,
    mut amendment: crate::run::record::Amendment,
) -> Result<Record> {
    let redactor = Redactor::new(&context::vars());
    redactor.tags(&mut amendment.tags, &mut amendment.redacted);
    if let Some(r) = amendment.note.as_deref().and_then(|n| redactor.text(n)) {
        amendment.note = Some(r);
        amendment.redacted.push("note".to_string());
    }
    let entity = Entity::new(EntityKind::Run, run_id)?;
    let mut parts = Vec::new();
    if !amendment.metrics.is_empty() {
        parts.push(format!(
            "metrics {}",
            amendment
                .metrics
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    if !amendment.tags.is_empty() {
        parts.push(format!(
            "tags {}",
            amendment.tags.keys().cloned().collect::<Vec<_>>().join(",")
        ));
    }
    if amendment.note.is_some() {
        parts.push("note".into());
    }
    if parts.is_empty() {
        return Err(Error::invalid_with_hint(
            "nothing to amend",
            "pass `--metric k=v`, `--tag k=v` or `--note \"...\"`",
        ));
    }
    let summary = format!("amend run {run_id}: {}", parts.join("; "));
    let draft = Draft::new(AMENDMENT, SCHEMA, summary).with_body(&amendment)?;
    store.append_draft(&entity, &draft)
}
