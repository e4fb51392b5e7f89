//! Which approvals a promotion counts, and why the others do not
//! (docs/governance.md).
//!
//! An approval comes from an approval record the approver made and signed
//! (`mlops approve`), or is asserted by the promoter (`--approved-by`). It
//! counts only when: its signature verifies against the committed
//! `allowed_signers` and names the approver (for a signed one); the gate
//! takes its kind (`signed` gates — by default `production` — take only
//! signed approvals); the approver is on the gate's list and in the role
//! claimed; and the approver is independent of the promoter, of whoever
//! tracked the run and of the authors of the code it trained on (per role,
//! `independent_of`). People are compared by their normalised e-mail address,
//! so `Alice <ALICE@bank>` and `alice@bank` are one person. Each approval not
//! counted says why, in the verdict and in the record.

use std::collections::BTreeSet;

use crate::config::{Config, GateConfig};
use crate::record::Record;
use crate::registry::records::{Approval, ApprovalRecord, APPROVAL};
use crate::registry::state::VersionInfo;
use crate::signing::{normalise_email, verify_ssh, AllowedSigner, APPROVAL_NAMESPACE};

/// Who a promotion must be independent of.
#[derive(Debug, Default, Clone)]
pub struct Parties {
    /// Who records the promotion.
    pub promoter: String,
    /// Who tracked the run the version came from.
    pub developer: Option<String>,
    /// Authors and committers of the code commit the run trained on.
    pub authors: Vec<String>,
}

/// An asserted approval from `--approved-by` (`who` or `role:who`).
pub fn asserted(spec: &str, when: &str) -> Option<Approval> {
    let (role, who) = match spec.split_once(':') {
        Some((r, w)) if !r.contains('@') && !r.contains('<') => {
            (Some(r.trim().to_string()), w.trim().to_string())
        }
        _ => (None, spec.trim().to_string()),
    };
    let who = normalise_email(&who);
    (!who.is_empty()).then(|| Approval {
        who,
        role,
        when: when.to_string(),
        source: "asserted".into(),
        record: None,
        key: None,
        counted: false,
        not_counted: None,
    })
}

/// The signed (or `--unsigned`) approval records of a version for a stage.
pub fn recorded(
    records: &[Record],
    version: &VersionInfo,
    stage: &str,
    allowed: &[AllowedSigner],
) -> Vec<Approval> {
    let mut out = Vec::new();
    for r in records.iter().filter(|r| r.kind() == APPROVAL) {
        let Ok(a) = r.parse::<ApprovalRecord>() else {
            continue;
        };
        if a.version_record != version.record || a.stage != stage {
            continue;
        }
        let mut approval = Approval {
            who: normalise_email(&a.approver),
            role: a.role.clone(),
            when: r.created_at().to_string(),
            source: if a.signature.is_some() {
                "signed".into()
            } else {
                "unsigned".into()
            },
            record: Some(r.id().to_string()),
            key: a.signature.as_ref().map(|s| s.key.clone()),
            counted: false,
            not_counted: None,
        };
        approval.not_counted = check_signature(&a, allowed).err();
        out.push(approval);
    }
    out
}

/// Why an approval record's signature does not stand, if it does not.
pub fn check_signature(a: &ApprovalRecord, allowed: &[AllowedSigner]) -> Result<(), String> {
    if a.statement != a.expected_statement() {
        return Err("its signed statement does not match the record".into());
    }
    let Some(sig) = &a.signature else {
        return Ok(());
    };
    if sig.format != "ssh" {
        return Err(format!(
            "`{}` signatures are not checked by this version (use gpg.format = ssh)",
            sig.format
        ));
    }
    if allowed.is_empty() {
        return Err("no allowed_signers file is configured ([signing] in mlops.toml)".into());
    }
    let verified = verify_ssh(
        a.statement.as_bytes(),
        &sig.armored,
        APPROVAL_NAMESPACE,
        allowed,
    )?;
    if !verified.principals.contains(&normalise_email(&a.approver)) {
        return Err(format!(
            "signed with {}, a key allowed_signers binds to {}, not to {}",
            verified.key,
            verified.principals.join(", "),
            a.approver
        ));
    }
    Ok(())
}

/// Decides, for each approval, whether the gate counts it.
pub fn judge(
    approvals: &mut [Approval],
    gate: &GateConfig,
    stage: &str,
    config: &Config,
    parties: &Parties,
) {
    let signed_only = gate.needs_signatures(stage);
    let mut seen: BTreeSet<(String, Option<String>)> = BTreeSet::new();
    for a in approvals.iter_mut() {
        if a.not_counted.is_some() {
            continue;
        }
        let why = (|| -> Option<String> {
            if signed_only && a.source != "signed" {
                return Some(format!(
                    "{} approval: `{stage}` takes only approvals signed by the approver (`mlops approve`)",
                    a.source
                ));
            }
            if !gate.approvers.is_empty()
                && !gate.approvers.iter().any(|x| normalise_email(x) == a.who)
            {
                return Some("not on the gate's list of approvers".into());
            }
            let role = a.role.as_ref().and_then(|r| config.roles.get(r));
            if let (Some(name), None) = (&a.role, role) {
                return Some(format!("`{name}` is not a role in mlops.toml"));
            }
            if let Some(r) = role {
                if !r.members.iter().any(|m| normalise_email(m) == a.who) {
                    return Some(format!(
                        "not a member of role `{}`",
                        a.role.as_deref().unwrap_or_default()
                    ));
                }
            }
            let independent_of: Vec<String> = match role {
                Some(r) => r.independent_of.clone(),
                None => vec!["promoter".into(), "developer".into(), "author".into()],
            };
            let same = |x: &str| normalise_email(x) == a.who;
            if independent_of.iter().any(|i| i == "promoter") && same(&parties.promoter) {
                return Some("the promoter cannot approve their own promotion".into());
            }
            if independent_of.iter().any(|i| i == "developer")
                && parties.developer.as_deref().is_some_and(same)
            {
                return Some("tracked the run this version comes from".into());
            }
            if independent_of.iter().any(|i| i == "author")
                && parties.authors.iter().any(|x| same(x))
            {
                return Some("authored or committed the code the run trained on".into());
            }
            if !seen.insert((a.who.clone(), a.role.clone())) {
                return Some("counted once already".into());
            }
            None
        })();
        a.counted = why.is_none();
        a.not_counted = why;
    }
}

/// The approvals gate over judged approvals: `(pass, expected, actual)`.
pub fn gate_result(
    approvals: &[Approval],
    gate: &GateConfig,
    stage: &str,
) -> (bool, String, String) {
    let counted: Vec<&Approval> = approvals.iter().filter(|a| a.counted).collect();
    let people: BTreeSet<&str> = counted.iter().map(|a| a.who.as_str()).collect();
    let need = gate.approvals.max(u32::from(gate.roles.is_empty())) as usize;
    let mut pass = people.len() >= need;
    let mut expected = Vec::new();
    if need > 0 {
        expected.push(if gate.approvers.is_empty() {
            format!("{need} distinct approver(s), independent of the promoter")
        } else {
            format!("{need} of {}", gate.approvers.join(", "))
        });
    }
    for (role, n) in &gate.roles {
        let have = counted
            .iter()
            .filter(|a| a.role.as_deref() == Some(role.as_str()))
            .map(|a| a.who.as_str())
            .collect::<BTreeSet<_>>()
            .len();
        pass &= have >= *n as usize;
        expected.push(format!("{n} in role `{role}`"));
    }
    if gate.needs_signatures(stage) {
        expected.push("signed".into());
    }
    let mut actual = format!("{} counted", people.len());
    if !counted.is_empty() {
        actual.push_str(&format!(
            ": {}",
            counted
                .iter()
                .map(|a| match &a.role {
                    Some(r) => format!("{} ({r}, {})", a.who, a.source),
                    None => format!("{} ({})", a.who, a.source),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let refused: Vec<String> = approvals
        .iter()
        .filter(|a| !a.counted)
        .map(|a| {
            format!(
                "{} — {}",
                a.who,
                a.not_counted.as_deref().unwrap_or("not counted")
            )
        })
        .collect();
    if !refused.is_empty() {
        actual.push_str(&format!("; not counted: {}", refused.join("; ")));
    }
    (pass, expected.join(", "), actual)
}

/// What `mlops verify` finds wrong with an approval record, if anything: a
/// statement that no longer says what the record says, a signature that
/// does not verify over it, or an approver who is not who recorded it.
pub fn integrity(r: &Record) -> Option<String> {
    let a = match r.parse::<ApprovalRecord>() {
        Ok(a) => a,
        Err(e) => return Some(format!("cannot be read as an approval: {e}")),
    };
    if a.statement != a.expected_statement() {
        return Some("its signed statement does not match its fields".into());
    }
    if normalise_email(r.actor()) != normalise_email(&a.approver) {
        return Some(format!(
            "recorded by {} for approver {}",
            r.actor(),
            a.approver
        ));
    }
    let sig = a.signature.as_ref()?;
    if sig.format != "ssh" {
        return None;
    }
    match crate::signing::verify_ssh_intact(
        a.statement.as_bytes(),
        &sig.armored,
        APPROVAL_NAMESPACE,
    ) {
        Ok(key) if key == sig.key => None,
        Ok(key) => Some(format!("signed by key {key}, recorded as {}", sig.key)),
        Err(why) => Some(why),
    }
}
