//! `mlops.toml`: the configuration and policy people edit and review in pull
//! requests. Parsing is strict — an unknown key or a wrong type is an error that
//! names the key and the line — because a misspelt gate that is silently
//! ignored is a gate that does not exist.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const FILE_NAME: &str = "mlops.toml";

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub project: Project,
    #[serde(default)]
    pub tracking: Tracking,
    #[serde(default)]
    pub models: BTreeMap<String, ModelConfig>,
    #[serde(default)]
    pub monitors: BTreeMap<String, MonitorConfig>,
    #[serde(default)]
    pub report: ReportConfig,
    /// What may be kept about data (docs/privacy.md): `k`, `max_categories`,
    /// `pii` and `exclude` column lists.
    #[serde(default)]
    pub privacy: crate::privacy::Policy,
    /// Who may approve (docs/governance.md): role → members.
    #[serde(default)]
    pub roles: BTreeMap<String, RoleConfig>,
    /// Where the keys that bind people to signatures are.
    #[serde(default)]
    pub signing: SigningConfig,
    /// The mlops every CI job of the repository installs (docs/ci.md).
    #[serde(default)]
    pub ci: CiConfig,
    /// Who is told when a monitor finds drift or degradation.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// Per dataset: its data contract (docs/monitoring.md).
    #[serde(default)]
    pub datasets: BTreeMap<String, DatasetConfig>,
}

/// `[datasets.<name>]`.
#[derive(Debug, Default, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    pub contract: Option<crate::dataset::contract::Contract>,
}

/// `[ci]`: read by `.mlops/install.sh` (plain `key = "value"` lines).
#[derive(Debug, Default, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CiConfig {
    /// The version every job installs, so all run the same mlops.
    pub mlops_version: Option<String>,
    /// Where releases are downloaded from (a bank's mirror).
    pub install_url: Option<String>,
    /// The archive's SHA-256, pinned in review (else the release's
    /// `SHA256SUMS` is trusted).
    pub mlops_sha256: Option<String>,
}

/// `[alerts]`.
#[derive(Debug, Default, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// A shell command run once per monitor that drifted or degraded, with
    /// `MLOPS_ALERT_MONITOR`, `MLOPS_ALERT_KIND` (`drift`, `degradation`),
    /// `MLOPS_ALERT_SUMMARY` and `MLOPS_ALERT_REPORT` (a Markdown file) in
    /// its environment: `curl` to a webhook, a pager, a chat tool.
    pub command: Option<String>,
}

/// A role in the approval policy.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// E-mail addresses of the people in the role (compared lowercased).
    pub members: Vec<String>,
    /// Whom an approval in this role must be independent of: `promoter`
    /// (who records the promotion), `developer` (who tracked the run) and
    /// `author` (authors and committers of the code commit the run trained
    /// on). Default: all three.
    #[serde(default = "default_independence")]
    pub independent_of: Vec<String>,
}

fn default_independence() -> Vec<String> {
    vec!["promoter".into(), "developer".into(), "author".into()]
}

/// `[signing]`.
#[derive(Debug, Default, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// An SSH `allowed_signers` file, committed in the repository, binding
    /// members' e-mail addresses to their public keys.
    pub allowed_signers: Option<String>,
    /// Record kinds `verify --require-signatures` requires signed
    /// (`approval`, `promotion:production`, `drift-report`, ...); default:
    /// approvals and promotions to production.
    pub require: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    pub name: Option<String>,
    /// The remote `mlops sync` pushes to and fetches from.
    pub remote: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tracking {
    /// How a metric's history is summarised: `last` (default), `min` or `max`.
    #[serde(default)]
    pub summary: BTreeMap<String, SummaryRule>,
    /// Environment variables recorded with every run besides the built-in
    /// allowlist (`run::environment::ALLOWED`); one whose name looks like a
    /// secret, or whose value holds a credential, is still left out.
    #[serde(default)]
    pub env: Vec<String>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SummaryRule {
    #[default]
    Last,
    Min,
    Max,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub owner: Option<String>,
    pub purpose: Option<String>,
    pub intended_use: Option<String>,
    pub limitations: Option<String>,
    pub risk_tier: Option<String>,
    /// Stages in promotion order; a version reaches a stage only after the one before it.
    #[serde(default = "default_stages")]
    pub stages: Vec<String>,
    /// Free-form model-card fields (e.g. `training_data`, `ethical_considerations`).
    #[serde(default)]
    pub card: BTreeMap<String, String>,
    /// Gates per stage.
    #[serde(default)]
    pub gates: BTreeMap<String, GateConfig>,
    /// Feature importances (e.g. mean |SHAP| per feature) for the audit
    /// report, as CSV (`feature,importance`) or JSON: a file path relative to
    /// the repository root. The report says whether its hash matches an
    /// artifact recorded with the version, so a regulator can tell evidence
    /// produced at training time from a file supplied afterwards.
    pub explainability: Option<String>,
    /// Days between validations, for the report's next-review date
    /// (default 365).
    pub review_every_days: Option<u32>,
}

fn default_stages() -> Vec<String> {
    vec!["staging".into(), "production".into()]
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// Metric rules such as `accuracy >= 0.9` or `auc >= current - 0.005`.
    #[serde(default)]
    pub metrics: Vec<String>,
    /// Fairness rules on a metric's slices (docs/fairness.md), such as
    /// `ratio(approval_rate by gender) >= 0.8` or `worst(auc) >= 0.7`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slices: Vec<String>,
    /// How many distinct approvals the promotion needs.
    #[serde(default)]
    pub approvals: u32,
    /// Who may approve (git identities or emails); empty means anyone.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// A monitor whose latest drift report must have passed.
    pub drift_monitor: Option<String>,
    /// How old that drift report may be, in days.
    pub drift_max_age_days: Option<u32>,
    /// Model-card fields that must be filled in.
    #[serde(default)]
    pub card: Vec<String>,
    /// Allow promotion without the version having passed the previous stage.
    #[serde(default)]
    pub skip_stage_order: bool,
    /// Every dataset the version trained on passed its contract when it
    /// was added (docs/monitoring.md).
    #[serde(default)]
    pub data_quality: bool,
    /// Approvals needed per role (`{ risk = 1, validation = 1 }`).
    #[serde(default)]
    pub roles: BTreeMap<String, u32>,
    /// Whether only signed approvals (`mlops approve`) count; default: true
    /// for `production`, false for other stages.
    pub signed: Option<bool>,
    /// A shadow comparison of the candidate against the version in the
    /// stage must show it not worse (docs/shadow.md).
    pub shadow: Option<ShadowGateConfig>,
}

/// `shadow = { metric = "auc", max_worse = 0.01, min_rows = 1000 }`: the
/// challenger may be worse than the champion by at most `max_worse` on
/// `metric`, over at least `min_rows` labelled rows; `bound = "interval"`
/// judges by the confidence interval's pessimistic end.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ShadowGateConfig {
    pub metric: String,
    pub max_worse: f64,
    #[serde(default)]
    pub min_rows: u64,
    /// `point` (default) or `interval`.
    pub bound: Option<String>,
}

impl GateConfig {
    /// Whether this stage's approvals must be signed.
    pub fn needs_signatures(&self, stage: &str) -> bool {
        self.signed.unwrap_or(stage == "production")
    }

    /// Whether this gate asks for approvals at all.
    pub fn wants_approvals(&self) -> bool {
        self.approvals > 0 || !self.approvers.is_empty() || !self.roles.is_empty()
    }
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// A dataset (`name` or `name@version`) or a file path.
    pub reference: Option<String>,
    /// Files or globs of today's data.
    #[serde(default)]
    pub current: Vec<String>,
    /// The model this monitor guards.
    pub model: Option<String>,
    /// Only these columns (default: all shared columns).
    pub columns: Option<Vec<String>>,
    /// Dataset drift when this share of columns drifted (default 0.5).
    pub drift_share: Option<f64>,
    /// Per-column test and threshold overrides.
    #[serde(default)]
    pub column: BTreeMap<String, ColumnTest>,
    pub prediction: Option<String>,
    pub label: Option<String>,
    /// The metric compared against the model's recorded value (`accuracy`, `auc`, ...).
    pub metric: Option<String>,
    pub max_degradation: Option<f64>,
    /// `rollback`: a run in which the model's quality degraded rolls the
    /// guarded stage back to its previous version, once (docs/monitoring.md).
    pub on_breach: Option<String>,
    /// The stage `on_breach = "rollback"` guards (default `production`).
    pub guards: Option<String>,
    /// A change of at least this much in a column's share of missing or
    /// non-finite values is drift of the column (default 0.1).
    pub null_share_drift: Option<f64>,
    /// `newest` (default): each run compares the newest file of `current`
    /// it has not compared before; `all`: every matching file as one.
    pub batch: Option<String>,
    /// Late labels: a glob of the prediction batches the team keeps (key and
    /// prediction columns).
    pub predictions: Option<String>,
    /// Late labels: a glob of the label files (key and label columns).
    pub labels: Option<String>,
    /// The column joining predictions to labels.
    pub key: Option<String>,
    /// Batches first seen more than this many days ago are left out (default 90).
    pub window_days: Option<u32>,
    /// Fewer labelled rows are reported, not judged (default 30).
    pub min_rows: Option<u64>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnTest {
    pub test: Option<String>,
    pub threshold: Option<f64>,
    /// Leave the column out of drift detection.
    #[serde(default)]
    pub ignore: bool,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Folder of report templates overriding the built-in ones.
    pub templates: Option<String>,
    /// Where a model's human-written report sections live
    /// (`{model}` is replaced): default `models/{model}/card`.
    pub card_dir: Option<String>,
}

impl Config {
    /// Reads `mlops.toml` at the repository root; a missing file is the default
    /// configuration, so every command works before `mlops init`.
    pub fn load(root: &Path) -> Result<Config> {
        let path = root.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(Error::io(format!("cannot read `{FILE_NAME}`"), e)),
        }
    }

    pub fn parse(text: &str) -> Result<Config> {
        let config: Config = Config::parse_shape(text)?;
        config.check()?;
        Ok(config)
    }

    /// What no type can say: names that must refer to something defined.
    /// A misspelt stage would otherwise be a gate silently never applied.
    fn check(&self) -> Result<()> {
        let bad = |message: String| Error::Config {
            path: FILE_NAME.into(),
            message,
        };
        for (name, m) in &self.models {
            for stage in m.gates.keys() {
                if !m.stages.contains(stage) {
                    return Err(bad(format!(
                        "[models.{name}.gates.{stage}]: `{stage}` is not a stage of model `{name}` (its stages: {})",
                        m.stages.join(", ")
                    )));
                }
            }
            for (stage, g) in &m.gates {
                if let Some(shadow) = &g.shadow {
                    crate::registry::shadow_gate::check(shadow, name, stage)?;
                }
                for rule in &g.slices {
                    crate::registry::slices::parse_configured(name, stage, rule)?;
                }
                for role in g.roles.keys() {
                    if !self.roles.contains_key(role) {
                        return Err(bad(format!(
                            "[models.{name}.gates.{stage}] roles: `{role}` is not a role (define it under [roles.{role}])"
                        )));
                    }
                }
            }
        }
        // A misspelt contract rule must not weaken it silently: `severity =
        // "Error"` would otherwise read as a warning.
        for (name, d) in &self.datasets {
            let Some(contract) = &d.contract else {
                continue;
            };
            for (col, rule) in &contract.columns {
                let at = format!("[datasets.{name}.contract.columns.{col}]");
                if let Some(s) = rule
                    .severity
                    .as_deref()
                    .filter(|s| !["error", "warn"].contains(s))
                {
                    return Err(bad(format!(
                        "{at} severity: `{s}` is not one of error, warn"
                    )));
                }
                if let Some(k) = rule
                    .kind
                    .as_deref()
                    .filter(|k| !["int", "float", "string", "bool"].contains(k))
                {
                    return Err(bad(format!(
                        "{at} type: `{k}` is not one of int, float, string, bool"
                    )));
                }
                if matches!(rule.kind.as_deref(), Some("string" | "bool"))
                    && (rule.min.is_some() || rule.max.is_some())
                {
                    return Err(bad(format!(
                        "{at}: min and max apply to int and float columns only"
                    )));
                }
                if let (Some(lo), Some(hi)) = (rule.min, rule.max) {
                    if lo > hi {
                        return Err(bad(format!("{at}: min {lo} is above max {hi}")));
                    }
                }
            }
        }
        for (name, m) in &self.monitors {
            if let (Some(stage), Some(model)) =
                (&m.guards, m.model.as_ref().and_then(|x| self.models.get(x)))
            {
                if !model.stages.iter().any(|s| s == stage) {
                    return Err(bad(format!(
                        "[monitors.{name}] guards: `{stage}` is not a stage of model `{}` (its stages: {})",
                        m.model.as_deref().unwrap_or(""),
                        model.stages.join(", ")
                    )));
                }
            }
            match m.on_breach.as_deref() {
                None | Some("alert") => {}
                Some("rollback") if m.model.is_some() && m.max_degradation.is_some() => {}
                Some("rollback") => {
                    return Err(bad(format!(
                        "[monitors.{name}] on_breach = \"rollback\" needs `model` and `max_degradation` (a rollback answers a degraded model)"
                    )))
                }
                Some(other) => {
                    return Err(bad(format!(
                        "[monitors.{name}] on_breach: `{other}` is not one of rollback, alert"
                    )))
                }
            }
        }
        for (name, r) in &self.roles {
            for i in &r.independent_of {
                if !["promoter", "developer", "author"].contains(&i.as_str()) {
                    return Err(bad(format!(
                        "[roles.{name}] independent_of: `{i}` is not one of promoter, developer, author"
                    )));
                }
            }
        }
        Ok(())
    }

    fn parse_shape(text: &str) -> Result<Config> {
        toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let message = e.message().trim().replace('\n', " ");
            Error::Config {
                path: FILE_NAME.into(),
                message: match line {
                    Some(l) => format!("line {l}: {message}"),
                    None => message,
                },
            }
        })
    }

    pub fn model(&self, name: &str) -> Option<&ModelConfig> {
        self.models.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_name_the_key_and_line() {
        let err = Config::parse("[models.fraud]\nowner = \"a\"\nownr = \"b\"\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("line 3"), "{text}");
        assert!(text.contains("ownr"), "{text}");
    }

    #[test]
    fn wrong_types_name_the_line() {
        let err = Config::parse("[models.fraud.gates.production]\napprovals = \"two\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn defaults_give_two_stages() {
        let c = Config::parse("[models.fraud]\nowner = \"risk-team\"\n").unwrap();
        assert_eq!(c.models["fraud"].stages, vec!["staging", "production"]);
    }
}
