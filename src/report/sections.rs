//! The 24 sections of the audit report (docs/report.md), each marked
//! `computed`, `human`, `computed+human` or `MISSING` — never silently
//! absent. The list is the merged documentation checklist of SR 11-7, the
//! HKMA's AI principles, EU AI Act Annex IV and Model Cards; which framework
//! asks for which section is data ([`super::frameworks`]).
//!
//! Computed content comes from the records the report already gathered;
//! human content from Markdown files versioned in the repository
//! (`models/<model>/card/<section>.md` by default), each cited by its git
//! blob id and SHA-256 so a reader can tell which text was reviewed.

use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::view::Report;
use crate::config::Config;
use crate::error::{Error, Result};

/// One section: what it is, what filled it, and what is missing.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub number: u8,
    pub key: &'static str,
    pub title: &'static str,
    /// `computed`, `human`, `computed+human` or `MISSING`.
    pub status: String,
    /// Computed facts, one line each (Markdown-escaped by the template).
    pub facts: Vec<String>,
    /// The human-written text, when its file exists.
    pub human: Option<HumanFile>,
    /// What would complete it (the file to write, the command to run).
    pub todo: Vec<String>,
}

/// A Markdown file a person wrote, as the report cites it.
#[derive(Debug, Clone, Serialize)]
pub struct HumanFile {
    pub path: String,
    pub blob: String,
    pub sha256: String,
    pub text: String,
    /// The file differs from (or is absent in) `HEAD`: not yet reviewed.
    pub uncommitted: bool,
}

/// A finding of the independent validation (`findings.toml`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub id: String,
    pub severity: String,
    pub status: String,
    pub owner: Option<String>,
    pub due: Option<String>,
    pub title: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Findings {
    #[serde(default)]
    finding: Vec<Finding>,
    /// The validation's conclusion and date, as the validator wrote them.
    conclusion: Option<String>,
    validated_at: Option<String>,
    validator: Option<String>,
}

/// `(number, key, title)` of the 24 sections.
pub const SECTIONS: [(u8, &str, &str); 24] = [
    (1, "identity", "Model identity and inventory"),
    (
        2,
        "intended-use",
        "Intended use, users and out-of-scope uses",
    ),
    (3, "changes", "Version history and change log"),
    (4, "provenance", "Code and environment provenance"),
    (5, "data", "Data provenance and lineage"),
    (6, "data-quality", "Data quality"),
    (7, "methodology", "Methodology and candidate runs"),
    (8, "performance", "Performance"),
    (9, "fairness", "Per-slice and fairness results"),
    (10, "explainability", "Explainability"),
    (11, "robustness", "Robustness and sensitivity"),
    (12, "validation", "Independent validation"),
    (13, "approvals", "Approvals and sign-off"),
    (14, "deployment", "Deployment record"),
    (15, "monitoring-plan", "Monitoring plan"),
    (16, "monitoring", "Monitoring results"),
    (17, "outcomes", "Outcomes analysis and back-testing"),
    (
        18,
        "limitations",
        "Limitations, risks and ethical considerations",
    ),
    (19, "oversight", "Human oversight and fallback"),
    (20, "third-party", "Third-party components"),
    (21, "security", "Security and data protection"),
    (22, "regulatory", "Regulatory mapping"),
    (23, "integrity", "Integrity evidence"),
    (24, "review", "Next review and open findings"),
];

/// Where a model's human-written sections live.
pub fn card_dir(config: &Config, model: &str) -> String {
    config
        .report
        .card_dir
        .clone()
        .unwrap_or_else(|| "models/{model}/card".into())
        .replace("{model}", model)
}

fn human(store: &crate::store::Store, dir: &str, key: &str) -> Result<Option<HumanFile>> {
    human_file(store, &format!("{dir}/{key}.md"))
}

/// The validation as its file records it.
pub struct Validation {
    pub file: HumanFile,
    pub findings: Vec<Finding>,
    pub conclusion: Option<String>,
    pub validated_at: Option<String>,
    pub validator: Option<String>,
}

/// The validation findings file, if there is one.
pub fn findings(store: &crate::store::Store, dir: &str) -> Result<Option<Validation>> {
    let Some(file) = human_file(store, &format!("{dir}/findings.toml"))? else {
        return Ok(None);
    };
    let parsed: Findings = toml::from_str(&file.text).map_err(|e| Error::Config {
        path: file.path.clone(),
        message: e.message().to_string(),
    })?;
    Ok(Some(Validation {
        file,
        findings: parsed.finding,
        conclusion: parsed.conclusion,
        validated_at: parsed.validated_at,
        validator: parsed.validator,
    }))
}

/// A file of the repository as the report cites it: its bytes, blob id and
/// SHA-256, and whether `HEAD` holds exactly these bytes.
fn human_file(store: &crate::store::Store, rel: &str) -> Result<Option<HumanFile>> {
    let bytes = match std::fs::read(store.root().join(rel)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("cannot read `{rel}`"), e)),
    };
    let blob = crate::store::GitDb::blob_id(&bytes).to_string();
    let committed = match store.db().resolve_rev("HEAD")? {
        Some(head) => store
            .db()
            .file_at(head, rel)?
            .map(|(oid, _)| oid.to_string()),
        None => None,
    };
    Ok(Some(HumanFile {
        uncommitted: committed.as_deref() != Some(blob.as_str()),
        path: rel.to_string(),
        blob,
        sha256: hex::encode(sha2::Sha256::digest(&bytes)),
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }))
}

fn status(computed: bool, human: bool) -> String {
    match (computed, human) {
        (true, true) => "computed+human",
        (true, false) => "computed",
        (false, true) => "human",
        (false, false) => "MISSING",
    }
    .to_string()
}

/// Builds the 24 sections from the gathered report.
pub fn build(
    store: &crate::store::Store,
    config: &Config,
    r: &Report,
    integrity: &[String],
    matrix: &[String],
) -> Result<Vec<Section>> {
    let dir = card_dir(config, &r.model.name);
    let inv = &r.model.inventory;
    let findings = findings(store, &dir)?;
    let mut out = Vec::with_capacity(24);
    for (number, key, title) in SECTIONS {
        let h = human(store, &dir, key)?;
        let mut facts: Vec<String> = Vec::new();
        let mut todo: Vec<String> = Vec::new();
        let write = |todo: &mut Vec<String>| todo.push(format!("write `{dir}/{key}.md`"));
        match key {
            "identity" => {
                facts.push(format!("model `{}`", r.model.name));
                if let Some(v) = &r.version {
                    facts.push(format!(
                        "version {} (record {}), registered {} by {}",
                        v.version.version, v.record, v.created_at, v.actor
                    ));
                    facts.push(format!(
                        "status: {}",
                        if v.stages.is_empty() {
                            "registered".into()
                        } else {
                            v.stages.join(", ")
                        }
                    ));
                }
                for (k, v) in [("owner", &inv.owner), ("risk tier", &inv.risk_tier)] {
                    match v {
                        Some(x) => facts.push(format!("{k}: {x}")),
                        None => todo.push(format!(
                            "set `{}` in [models.{}]",
                            k.replace(' ', "_"),
                            r.model.name
                        )),
                    }
                }
            }
            "intended-use" => {
                for (k, v) in [
                    ("purpose", &inv.purpose),
                    ("intended use", &inv.intended_use),
                ] {
                    if let Some(x) = v {
                        facts.push(format!("{k}: {x}"));
                    }
                }
                if facts.is_empty() && h.is_none() {
                    todo.push(format!(
                        "set `purpose` and `intended_use` in [models.{}], or",
                        r.model.name
                    ));
                    write(&mut todo);
                }
            }
            "changes" => {
                for v in r.versions.iter().take(20) {
                    facts.push(format!(
                        "{} — {} by {}{}",
                        v.version,
                        v.created_at,
                        v.actor,
                        if v.stages.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", v.stages.join(", "))
                        }
                    ));
                }
                if let Some(c) = &r.comparison {
                    for m in &c.rows {
                        if let (Some(a), Some(b)) = (m.previous, m.candidate) {
                            facts
                                .push(format!("{} against {}: {} → {}", m.metric, c.against, a, b));
                        }
                    }
                }
            }
            "provenance" => match &r.run {
                Some(run) => {
                    if let Some(c) = &run.code {
                        facts.push(format!(
                            "code commit {}{}{}",
                            c.commit.as_deref().unwrap_or("none"),
                            if c.dirty { " (dirty)" } else { "" },
                            c.diff_sha256
                                .as_deref()
                                .map(|d| format!(", diff sha256 {d}"))
                                .unwrap_or_default()
                        ));
                    }
                    let e = &run.environment;
                    facts.push(format!(
                        "{} {} ({} CPUs), {}",
                        e.os, e.arch, e.cpus, e.mlops
                    ));
                    if let Some(p) = &e.python {
                        facts.push(format!("python {p}"));
                    }
                    facts.push(format!("command: {}", run.command));
                }
                None => todo.push(
                    "register the version from a tracked run (`model register --run`)".into(),
                ),
            },
            "data" => match &r.run {
                Some(run) if !run.inputs.is_empty() => {
                    for i in &run.inputs {
                        facts.push(format!(
                            "{} `{}`{}: root {}, {} file(s), {} bytes",
                            i.role,
                            i.path,
                            i.dataset
                                .as_deref()
                                .map(|d| format!(
                                    " (dataset {d}{})",
                                    i.version
                                        .as_deref()
                                        .map(|v| format!(" {v}"))
                                        .unwrap_or_default()
                                ))
                                .unwrap_or_default(),
                            i.root,
                            i.files,
                            i.bytes
                        ));
                    }
                }
                _ => todo.push("track the run with `--data` so its datasets are pinned".into()),
            },
            "data-quality" => match &r.run {
                Some(run) if run.inputs.iter().any(|i| i.dataset.is_some()) => {
                    for i in run.inputs.iter().filter(|i| i.dataset.is_some()) {
                        facts.push(format!(
                            "dataset {} profiled when added (`mlops data show {}`): schema, null shares, ranges under the privacy policy (k = {})",
                            i.dataset.as_deref().unwrap_or_default(),
                            i.dataset.as_deref().unwrap_or_default(),
                            config.privacy.k
                        ));
                    }
                }
                _ => todo
                    .push("add the training data with `mlops data add` so it is profiled".into()),
            },
            "methodology" => {
                if let Some(run) = &r.run {
                    for (k, v) in &run.params {
                        facts.push(format!("param {k} = {v}"));
                    }
                }
                if h.is_none() {
                    write(&mut todo);
                }
            }
            "performance" => {
                if let Some(v) = &r.version {
                    let mut sliced = 0;
                    for (k, m) in &v.version.metrics {
                        if k.contains('{') {
                            sliced += 1;
                        } else {
                            facts.push(format!("{k} = {m}"));
                        }
                    }
                    if sliced > 0 {
                        facts.push(format!("{sliced} per-slice metric value(s): section 9"));
                    }
                }
                if let Some(c) = &r.comparison {
                    facts.push(format!("compared with {} ({})", c.against, c.basis));
                }
            }
            "fairness" => {
                if let Some(v) = &r.version {
                    facts.extend(fairness_facts(&v.version.metrics));
                    for d in &r.decisions {
                        for g in d.gates.iter().filter(|g| g.gate.starts_with("slices ")) {
                            facts.push(format!(
                                "gate {} for {}: {} — expected {}, found {}",
                                g.gate,
                                d.to_stage.as_deref().unwrap_or("?"),
                                if g.pass { "passed" } else { "failed" },
                                // Words, not `<`/`>`: the facts pass through
                                // HTML escaping into the Markdown report.
                                g.expected
                                    .replace(">=", "at least")
                                    .replace("<=", "at most")
                                    .replace('>', "above")
                                    .replace('<', "below")
                                    .replace("==", "equal to")
                                    .replace("!=", "not"),
                                g.actual
                            ));
                        }
                    }
                }
                if facts.is_empty() {
                    todo.push(
                        "log metrics per slice (`\"slice\"` in the metrics lines, docs/fairness.md), or"
                            .into(),
                    );
                }
                if h.is_none() {
                    write(&mut todo);
                }
            }
            "outcomes" if h.is_none() => write(&mut todo),
            "explainability" => match &r.explainability {
                Some(e) => {
                    facts.push(format!(
                        "importances from `{}` (sha256 {})",
                        e.file, e.sha256
                    ));
                    for f in e.features.iter().take(10) {
                        facts.push(format!("{}: {}", f.feature, f.importance));
                    }
                }
                None => todo.push(format!(
                    "set `explainability` in [models.{}] or pass `--explain`",
                    r.model.name
                )),
            },
            "robustness" | "oversight" if h.is_none() => write(&mut todo),
            "validation" => {
                for d in &r.decisions {
                    for a in d
                        .approvals
                        .iter()
                        .filter(|a| a.counted && a.source == "signed")
                    {
                        facts.push(format!(
                            "signed approval by {}{} for {} ({}), independence checked",
                            a.who,
                            a.role
                                .as_deref()
                                .map(|x| format!(" as {x}"))
                                .unwrap_or_default(),
                            d.to_stage.as_deref().unwrap_or("?"),
                            a.when
                        ));
                    }
                }
                match &findings {
                    Some(Validation {
                        file,
                        findings: list,
                        conclusion,
                        validated_at: at,
                        validator: who,
                    }) => {
                        facts.push(format!("findings file `{}` (blob {}, sha256 {})", file.path, file.blob, file.sha256));
                        if let Some(w) = who {
                            facts.push(format!("validator: {w}"));
                        }
                        if let Some(at) = at {
                            facts.push(format!("validated on {at}"));
                        }
                        if let Some(c) = conclusion {
                            facts.push(format!("conclusion: {c}"));
                        }
                        for f in list {
                            facts.push(format!("{} [{}] {} — {}{}", f.id, f.severity, f.title, f.status, f.due.as_deref().map(|d| format!(", due {d}")).unwrap_or_default()));
                        }
                    }
                    None => todo.push(format!("write `{dir}/findings.toml` (validator, conclusion, [[finding]] id, severity, status, owner, due, title)")),
                }
            }
            "approvals" => {
                for d in &r.decisions {
                    let counted = d.approvals.iter().filter(|a| a.counted).count();
                    facts.push(format!(
                        "{} {} → {} by {} at {}: {} approval(s) counted{}",
                        d.kind,
                        d.from_stage.as_deref().unwrap_or("-"),
                        d.to_stage.as_deref().unwrap_or("-"),
                        d.actor,
                        d.created_at,
                        counted,
                        if d.is_override {
                            ", OVERRIDE of failing gates"
                        } else {
                            ""
                        }
                    ));
                }
                if r.decisions.is_empty() {
                    todo.push("no promotion of this version is recorded".into());
                }
            }
            "deployment" => {
                for e in r
                    .events
                    .iter()
                    .filter(|e| matches!(e.kind.as_str(), "promotion" | "rollback" | "deprecation"))
                {
                    facts.push(format!("{} {}: {}", e.created_at, e.actor, e.summary));
                }
                for (stage, v) in &r.stages {
                    facts.push(format!("now in {stage}: {v}"));
                }
            }
            "monitoring-plan" => {
                for (name, m) in config
                    .monitors
                    .iter()
                    .filter(|(_, m)| m.model.as_deref() == Some(r.model.name.as_str()))
                {
                    if crate::monitor::labels::wanted(m) {
                        facts.push(format!(
                            "monitor `{name}`: late labels — prediction batches `{}` joined to labels `{}` by `{}`; {} no worse than recorded by more than {} over batches of the last {} days{}",
                            m.predictions.as_deref().unwrap_or(""),
                            m.labels.as_deref().unwrap_or(""),
                            m.key.as_deref().unwrap_or(""),
                            m.metric.as_deref().unwrap_or("accuracy"),
                            m.max_degradation.map(|d| d.to_string()).unwrap_or_else(|| "(no threshold)".into()),
                            m.window_days.unwrap_or(crate::monitor::labels::DEFAULT_WINDOW_DAYS),
                            on_breach(m)
                        ));
                        continue;
                    }
                    facts.push(format!(
                        "monitor `{name}`: reference {}, current {}, dataset drift when more than {} of columns drift{}{}",
                        m.reference.as_deref().unwrap_or("the model's training data"),
                        m.current.join(", "),
                        m.drift_share.map(|s| s.to_string()).unwrap_or_else(|| "0.5".into()),
                        match (&m.metric, m.max_degradation) {
                            (Some(metric), Some(d)) => format!("; {metric} no worse than recorded by more than {d}"),
                            _ => String::new(),
                        },
                        on_breach(m)
                    ));
                }
                if facts.is_empty() && h.is_none() {
                    todo.push(format!(
                        "add a `[monitors.<name>]` with `model = \"{}\"`",
                        r.model.name
                    ));
                }
            }
            "monitoring" => {
                for m in &r.monitoring {
                    facts.push(format!(
                        "monitor `{}`: {} report(s), {} with drift, {} with the model degraded",
                        m.monitor, m.reports, m.drifted_reports, m.degraded_reports
                    ));
                }
                if facts.is_empty() {
                    todo.push("run `mlops drift` on a schedule (docs/ci.md)".into());
                }
            }
            "limitations" => {
                if let Some(l) = &inv.limitations {
                    facts.push(format!("limitations: {l}"));
                }
                if facts.is_empty() && h.is_none() {
                    todo.push(format!(
                        "set `limitations` in [models.{}], or",
                        r.model.name
                    ));
                    write(&mut todo);
                }
            }
            "third-party" => {
                if let Some(run) = &r.run {
                    for a in run
                        .artifacts
                        .iter()
                        .chain(r.version.iter().flat_map(|v| v.version.artifacts.iter()))
                    {
                        facts.push(format!("artifact `{}` sha256 {}", a.path, a.sha256));
                    }
                }
                if h.is_none() {
                    todo.push(format!(
                        "list libraries and pre-trained weights in `{dir}/third-party.md`"
                    ));
                }
            }
            "security" => {
                let p = &config.privacy;
                facts.push(format!(
                    "records hold no individual values: categories kept only with at least k = {} rows, at most {} categories; identifier-like columns keep counts and lengths only",
                    p.k, p.max_categories
                ));
                if !p.pii.is_empty() {
                    facts.push(format!("declared PII columns: {}", p.pii.join(", ")));
                }
                if !p.exclude.is_empty() {
                    facts.push(format!("excluded columns: {}", p.exclude.join(", ")));
                }
                if let Some(run) = &r.run {
                    if !run.redacted.is_empty() {
                        facts.push(format!(
                            "redacted before recording: {}",
                            run.redacted.join(", ")
                        ));
                    }
                }
            }
            "regulatory" => facts.extend(matrix.iter().cloned()),
            "integrity" => facts.extend(integrity.iter().cloned()),
            "review" => {
                let last = findings.as_ref().and_then(|f| f.validated_at.clone());
                match (
                    &last,
                    config
                        .model(&r.model.name)
                        .and_then(|m| m.review_every_days),
                ) {
                    (Some(at), days) => {
                        let days = days.unwrap_or(365);
                        facts.push(format!(
                            "last validation {at}; next review due {} (every {days} days)",
                            add_days(at, days)
                        ));
                    }
                    (None, _) => todo.push(
                        "record the validation date (`validated_at` in findings.toml)".into(),
                    ),
                }
                if let Some(v) = &findings {
                    let open: Vec<&Finding> = v
                        .findings
                        .iter()
                        .filter(|f| !f.status.eq_ignore_ascii_case("closed"))
                        .collect();
                    facts.push(format!("{} open finding(s)", open.len()));
                    for f in open {
                        facts.push(format!(
                            "{} [{}] {}{}",
                            f.id,
                            f.severity,
                            f.title,
                            f.owner
                                .as_deref()
                                .map(|o| format!(", owner {o}"))
                                .unwrap_or_default()
                        ));
                    }
                }
            }
            _ => {}
        }
        let computed = !facts.is_empty();
        out.push(Section {
            number,
            key,
            title,
            status: status(computed, h.is_some()),
            facts,
            human: h,
            todo: if computed { Vec::new() } else { todo },
        });
    }
    Ok(out)
}

/// The "Slices and fairness" table as lines: metric · slice · value, each
/// metric's slices together, then per metric and slice keys its gap and
/// ratio (docs/fairness.md).
fn fairness_facts(metrics: &std::collections::BTreeMap<String, f64>) -> Vec<String> {
    use crate::run::slices;
    let num = crate::run::query::short_number;
    let mut names: Vec<(String, String, f64)> = metrics
        .iter()
        .filter_map(|(k, v)| match slices::parse(k) {
            Ok((base, labels)) if !labels.is_empty() => {
                Some((base, slices::label_text(&labels), *v))
            }
            _ => None,
        })
        .collect();
    names.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let mut out: Vec<String> = names
        .iter()
        .map(|(m, s, v)| format!("{m} · {s} · {}", num(*v)))
        .collect();
    for g in slices::groups(metrics) {
        out.push(format!(
            "{} by {}: gap {} ({} {} − {} {}), ratio {}",
            g.metric,
            g.by.as_deref().unwrap_or_default(),
            num(g.gap),
            g.max.slice,
            num(g.max.value),
            g.min.slice,
            num(g.min.value),
            g.ratio.map(num).unwrap_or_else(|| "undefined".into())
        ));
    }
    out
}

/// `YYYY-MM-DD…` plus `days`, as a date.
fn add_days(at: &str, days: u32) -> String {
    // `get`, not slicing: a date with a multi-byte character must not panic.
    let date = at.get(..10).unwrap_or(at);
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.checked_add_days(chrono::Days::new(u64::from(days))))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| format!("{date} + {days} days"))
}

/// What a monitor does when it finds the model degraded, for the plan.
fn on_breach(m: &crate::config::MonitorConfig) -> String {
    match m.on_breach.as_deref() {
        Some("rollback") => format!(
            "; on breach: automatic rollback of `{}`, once",
            m.guards.as_deref().unwrap_or("production")
        ),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_add_across_years() {
        assert_eq!(super::add_days("2026-03-01T09:00:00Z", 365), "2027-03-01");
        assert_eq!(super::add_days("2024-02-28", 2), "2024-03-01");
        assert_eq!(super::add_days("2026-03-0€", 1), "2026-03-0€ + 1 days");
    }
}
