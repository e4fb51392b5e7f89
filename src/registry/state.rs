//! A model's state — its versions and what each stage holds — derived from
//! its events in causal order.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::record::Record;
use crate::registry::records::{
    ModelVersion, Promotion, DEPRECATION, PROMOTION, ROLLBACK, VERSION,
};
use crate::registry::spec::Selector;
use crate::store::History;

#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    pub record: String,
    pub created_at: String,
    pub actor: String,
    #[serde(flatten)]
    pub version: ModelVersion,
    pub deprecated: bool,
    /// Stages this version has ever entered.
    pub stages_reached: BTreeSet<String>,
    /// Stages it holds now.
    pub stages: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelState {
    pub name: String,
    /// Sorted by semantic version, oldest first.
    pub versions: Vec<VersionInfo>,
    /// Stage → version it holds now.
    pub stages: BTreeMap<String, String>,
    /// Stage → every version that held it, in order (for rollback).
    pub holders: BTreeMap<String, Vec<String>>,
    /// Promotions, rollbacks and deprecations, oldest first.
    #[serde(skip)]
    pub moves: Vec<(Record, Promotion)>,
}

impl ModelState {
    pub fn from_history(name: &str, history: &History) -> Result<ModelState> {
        let mut versions: Vec<VersionInfo> = Vec::new();
        let mut stages: BTreeMap<String, String> = BTreeMap::new();
        let mut holders: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut moves = Vec::new();
        for r in &history.records {
            match r.kind() {
                VERSION => {
                    let v: ModelVersion = r.parse()?;
                    versions.push(VersionInfo {
                        record: r.id().to_string(),
                        created_at: r.created_at().to_string(),
                        actor: r.actor().to_string(),
                        version: v,
                        deprecated: false,
                        stages_reached: BTreeSet::new(),
                        stages: Vec::new(),
                    });
                }
                PROMOTION | ROLLBACK | DEPRECATION => {
                    let p: Promotion = r.parse()?;
                    let info = versions.iter_mut().find(|v| v.version.version == p.version);
                    if r.kind() == DEPRECATION {
                        if let Some(info) = info {
                            info.deprecated = true;
                        }
                        stages.retain(|_, v| v != &p.version);
                    } else if let Some(stage) = &p.to_stage {
                        if let Some(info) = info {
                            info.stages_reached.insert(stage.clone());
                        }
                        stages.insert(stage.clone(), p.version.clone());
                        holders
                            .entry(stage.clone())
                            .or_default()
                            .push(p.version.clone());
                    }
                    moves.push((r.clone(), p));
                }
                _ => {}
            }
        }
        versions.sort_by_cached_key(|v| semver_of(&v.version.version));
        for v in &mut versions {
            v.stages = stages
                .iter()
                .filter(|(_, held)| **held == v.version.version)
                .map(|(s, _)| s.clone())
                .collect();
        }
        Ok(ModelState {
            name: name.to_string(),
            versions,
            stages,
            holders,
            moves,
        })
    }

    pub fn latest(&self) -> Option<&VersionInfo> {
        self.versions.iter().rev().find(|v| !v.deprecated)
    }

    pub fn version(&self, v: &str) -> Option<&VersionInfo> {
        self.versions.iter().find(|i| i.version.version == v)
    }

    pub fn in_stage(&self, stage: &str) -> Option<&VersionInfo> {
        self.stages.get(stage).and_then(|v| self.version(v))
    }

    pub fn resolve(&self, sel: &Selector) -> Result<&VersionInfo> {
        let hint = format!(
            "`mlops model show {}` lists its versions and stages",
            self.name
        );
        match sel {
            Selector::Latest => self.latest().ok_or_else(|| {
                Error::invalid_with_hint(format!("model `{}` has no versions", self.name), hint)
            }),
            Selector::Version(v) => self.version(&v.to_string()).ok_or_else(|| {
                Error::invalid_with_hint(
                    format!("model `{}` has no version `{v}`", self.name),
                    hint,
                )
            }),
            Selector::Stage(s) => self.in_stage(s).ok_or_else(|| {
                Error::invalid_with_hint(
                    format!("no version of model `{}` is in stage `{s}`", self.name),
                    hint,
                )
            }),
        }
    }
}

pub fn semver_of(v: &str) -> semver::Version {
    semver::Version::parse(v).unwrap_or_else(|_| semver::Version::new(0, 0, 0))
}
