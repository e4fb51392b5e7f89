//! A model's state — its versions and what each stage holds — derived from
//! its events in causal order.
//!
//! Everything is keyed by the version's *record id*, never by its version
//! string: two clones can register `1.2.0` independently, and after a sync
//! both records are in the history. Such a version string is a [`Conflict`]
//! that every reader reports instead of silently picking one, until a
//! `supersede` event names the record that survives.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::record::{self, Record};
use crate::registry::records::{
    ModelVersion, Promotion, Supersede, DEPRECATION, PROMOTION, ROLLBACK, SUPERSEDE, VERSION,
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
    /// The record that a `supersede` event kept instead of this one.
    pub superseded_by: Option<String>,
    /// Another live record claims the same version string.
    pub in_conflict: bool,
    /// Stages this version has ever entered.
    pub stages_reached: BTreeSet<String>,
    /// Stages it holds now.
    pub stages: Vec<String>,
}

impl VersionInfo {
    /// `1.2.0@sha256:abcdef012345`: the version and the record that is it.
    pub fn label(&self) -> String {
        format!("{} ({})", self.version.version, record::short(&self.record))
    }
}

/// One version string claimed by several records.
#[derive(Debug, Clone, Serialize)]
pub struct Conflict {
    pub version: String,
    /// `(record id, actor, created_at)` of each claimant.
    pub records: Vec<(String, String, String)>,
}

impl Conflict {
    pub fn describe(&self, model: &str) -> String {
        let who: Vec<String> = self
            .records
            .iter()
            .map(|(id, actor, at)| format!("{} (by {actor}, {at})", record::short(id)))
            .collect();
        format!(
            "version `{}` of model `{model}` is claimed by {} records: {}",
            self.version,
            self.records.len(),
            who.join(" and ")
        )
    }

    pub fn hint(&self, model: &str) -> String {
        format!(
            "keep one with `mlops model supersede {model}@{} --keep sha256:{}`, or name a record: `{model}@sha256:{}`",
            self.version,
            record::short(&self.records[0].0),
            record::short(&self.records[0].0)
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelState {
    pub name: String,
    /// Sorted by semantic version, oldest first (conflicting records of one
    /// version string by time).
    pub versions: Vec<VersionInfo>,
    /// Stage → version string it holds now (for people).
    pub stages: BTreeMap<String, String>,
    /// Stage → the version record it holds now (the truth).
    pub stage_records: BTreeMap<String, String>,
    /// Stage → every version record that held it, in order (for rollback).
    pub holders: BTreeMap<String, Vec<String>>,
    /// Version strings claimed by more than one live record.
    pub conflicts: Vec<Conflict>,
    /// Promotions, rollbacks and deprecations, oldest first.
    #[serde(skip)]
    pub moves: Vec<(Record, Promotion)>,
}

impl ModelState {
    pub fn from_history(name: &str, history: &History) -> Result<ModelState> {
        let mut versions: Vec<VersionInfo> = Vec::new();
        let mut stage_records: BTreeMap<String, String> = BTreeMap::new();
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
                        superseded_by: None,
                        in_conflict: false,
                        stages_reached: BTreeSet::new(),
                        stages: Vec::new(),
                    });
                }
                PROMOTION | ROLLBACK | DEPRECATION => {
                    let p: Promotion = r.parse()?;
                    let info = versions.iter_mut().find(|v| v.record == p.version_record);
                    if r.kind() == DEPRECATION {
                        if let Some(info) = info {
                            info.deprecated = true;
                        }
                        stage_records.retain(|_, v| v != &p.version_record);
                    } else if let Some(stage) = &p.to_stage {
                        if let Some(info) = info {
                            info.stages_reached.insert(stage.clone());
                        }
                        stage_records.insert(stage.clone(), p.version_record.clone());
                        holders
                            .entry(stage.clone())
                            .or_default()
                            .push(p.version_record.clone());
                    }
                    moves.push((r.clone(), p));
                }
                SUPERSEDE => {
                    let s: Supersede = r.parse()?;
                    for v in versions.iter_mut() {
                        if s.superseded.contains(&v.record) {
                            v.superseded_by = Some(s.kept.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        versions.sort_by_cached_key(|v| (semver_of(&v.version.version), v.created_at.clone()));
        for v in &mut versions {
            v.stages = stage_records
                .iter()
                .filter(|(_, held)| **held == v.record)
                .map(|(s, _)| s.clone())
                .collect();
        }
        let mut claims: BTreeMap<&str, Vec<&VersionInfo>> = BTreeMap::new();
        for v in versions.iter().filter(|v| v.superseded_by.is_none()) {
            claims.entry(&v.version.version).or_default().push(v);
        }
        let conflicts: Vec<Conflict> = claims
            .into_iter()
            .filter(|(_, c)| c.len() > 1)
            .map(|(version, c)| Conflict {
                version: version.to_string(),
                records: c
                    .iter()
                    .map(|v| (v.record.clone(), v.actor.clone(), v.created_at.clone()))
                    .collect(),
            })
            .collect();
        for v in &mut versions {
            v.in_conflict = conflicts.iter().any(|c| c.version == v.version.version)
                && v.superseded_by.is_none();
        }
        let stages = stage_records
            .iter()
            .filter_map(|(s, id)| {
                versions
                    .iter()
                    .find(|v| &v.record == id)
                    .map(|v| (s.clone(), v.version.version.clone()))
            })
            .collect();
        Ok(ModelState {
            name: name.to_string(),
            versions,
            stages,
            stage_records,
            holders,
            conflicts,
            moves,
        })
    }

    pub fn latest(&self) -> Option<&VersionInfo> {
        self.versions
            .iter()
            .rev()
            .find(|v| !v.deprecated && v.superseded_by.is_none())
    }

    pub fn by_record(&self, id: &str) -> Option<&VersionInfo> {
        self.versions.iter().find(|v| v.record == id)
    }

    /// The live record of a version string: `None` when there is none, an
    /// error when several records claim it (a conflict).
    pub fn find_version(&self, v: &str) -> Result<Option<&VersionInfo>> {
        if let Some(c) = self.conflicts.iter().find(|c| c.version == v) {
            return Err(Error::invalid_with_hint(
                c.describe(&self.name),
                c.hint(&self.name),
            ));
        }
        Ok(self
            .versions
            .iter()
            .find(|i| i.version.version == v && i.superseded_by.is_none()))
    }

    /// Like [`ModelState::find_version`], but a missing version is an error.
    pub fn version(&self, v: &str) -> Result<&VersionInfo> {
        self.find_version(v)?.ok_or_else(|| {
            Error::invalid_with_hint(
                format!("model `{}` has no version `{v}`", self.name),
                format!("`mlops model show {}` lists its versions", self.name),
            )
        })
    }

    pub fn in_stage(&self, stage: &str) -> Option<&VersionInfo> {
        self.stage_records
            .get(stage)
            .and_then(|id| self.by_record(id))
    }

    pub fn resolve(&self, sel: &Selector) -> Result<&VersionInfo> {
        let hint = format!(
            "`mlops model show {}` lists its versions and stages",
            self.name
        );
        match sel {
            Selector::Latest => {
                let latest = self.latest().ok_or_else(|| {
                    Error::invalid_with_hint(format!("model `{}` has no versions", self.name), hint)
                })?;
                // The newest version string may be claimed twice.
                self.version(&latest.version.version)
            }
            Selector::Version(v) => self.version(&v.to_string()),
            Selector::Stage(s) => {
                let held = self.in_stage(s).ok_or_else(|| {
                    Error::invalid_with_hint(
                        format!("no version of model `{}` is in stage `{s}`", self.name),
                        hint,
                    )
                })?;
                // The stage holds one record, but a deploy script that asks
                // for it by stage must not ship a version whose string means
                // two things until that is settled.
                if held.in_conflict {
                    self.version(&held.version.version)?;
                }
                Ok(held)
            }
            Selector::Record(prefix) => {
                let hex = record::hex_of(prefix);
                let found: Vec<&VersionInfo> = self
                    .versions
                    .iter()
                    .filter(|v| record::hex_of(&v.record).starts_with(hex))
                    .collect();
                match found.as_slice() {
                    [one] => Ok(one),
                    [] => Err(Error::invalid_with_hint(
                        format!("model `{}` has no version record `{prefix}`", self.name),
                        hint,
                    )),
                    _ => Err(Error::invalid_with_hint(
                        format!(
                            "`{prefix}` names {} version records of model `{}`",
                            found.len(),
                            self.name
                        ),
                        "give more digits of the record id",
                    )),
                }
            }
        }
    }
}

pub fn semver_of(v: &str) -> semver::Version {
    semver::Version::parse(v).unwrap_or_else(|_| semver::Version::new(0, 0, 0))
}
