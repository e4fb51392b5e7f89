//! `mlops sync`: share records with a git remote. gix cannot push, and the
//! user's own `git` carries their credentials, so the transport is
//! `git fetch` / `git push`; what git cannot do is merge two chains of the
//! same entity that grew independently in two clones. Records are immutable
//! and content-addressed, so the merge is the union of both trees, committed
//! with both tips as parents: it can never conflict at the storage level, and
//! `verify` checks that it dropped nothing.
//!
//! What sync will not do is follow a rewrite. The remote's records are
//! fetched, never forced, into `refs/remotes/<remote>/mlops/*`, which
//! therefore hold the last remote tip this clone saw; git refuses to move one
//! of them to a remote tip that does not contain it (a force-push, a rebased
//! or truncated history), and sync reports that ref, merges nothing from it
//! and pushes nothing at all. Ordinary divergence — both sides appended — is
//! union-merged. Nothing is ever force-pushed.

use std::collections::BTreeMap;

use gix::ObjectId;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::gitcli;
use crate::store::{archive, layout, Store, Swap, REF_ROOT};

#[derive(Debug, Default, Serialize)]
pub struct SyncReport {
    pub remote: String,
    /// Refs created locally from the remote.
    pub created: Vec<String>,
    /// Refs fast-forwarded to the remote's tip.
    pub fast_forwarded: Vec<String>,
    /// Refs where both sides had new events, merged as a union.
    pub merged: Vec<String>,
    /// Refs whose remote tip no longer contains what this clone saw there.
    pub refused: Vec<Refusal>,
    /// Run refs removed because the archive (another clone's fold) holds them.
    pub unfolded_refs_removed: usize,
    /// Runs this clone folded into the archive before pushing.
    pub folded: usize,
    /// Run refs deleted on the remote because the pushed archive holds them.
    pub remote_refs_folded: usize,
    /// Refs the push created or moved on the remote (the rest were up to date).
    pub updated_remote: Vec<String>,
    pub pushed: bool,
}

impl SyncReport {
    /// Every local ref this sync changed.
    pub fn changed(&self) -> impl Iterator<Item = &String> {
        self.created
            .iter()
            .chain(&self.fast_forwarded)
            .chain(&self.merged)
    }
}

/// A remote ref that was rewritten since this clone last saw it.
#[derive(Debug, Clone, Serialize)]
pub struct Refusal {
    pub refname: String,
    /// The remote tip this clone saw last.
    pub seen: String,
    /// The remote's tip now, which does not contain `seen`.
    pub remote_tip: String,
}

/// Adds, for every remote, the fetch refspec that brings its records into
/// `refs/remotes/<r>/mlops/*` — never straight onto `refs/mlops/*`, so a
/// plain `git fetch`/`git pull` cannot fail on a chain that diverged, and
/// without `+`, so git itself refuses to follow a rewritten one. Returns
/// the refspecs added (none when already there).
pub fn configure_fetch(store: &Store) -> Result<Vec<(String, String)>> {
    let root = store.root();
    let remotes = gitcli::output(&root, &["remote"]).unwrap_or_default();
    let mut added = Vec::new();
    for remote in remotes.lines().map(str::trim).filter(|r| !r.is_empty()) {
        let spec = format!("{REF_ROOT}*:{}*", tracking_prefix(remote));
        let key = format!("remote.{remote}.fetch");
        let have = gitcli::try_output(&root, &["config", "--get-all", &key]).unwrap_or_default();
        if have.lines().any(|l| l.trim() == spec) {
            continue;
        }
        gitcli::output(&root, &["config", "--add", &key, &spec])?;
        added.push((remote.to_string(), spec));
    }
    Ok(added)
}

fn tracking_prefix(remote: &str) -> String {
    format!("refs/remotes/{remote}/mlops/")
}

/// Fetches the remote's records and integrates them into the local refs.
pub fn pull(store: &Store, remote: &str) -> Result<SyncReport> {
    let root = store.root();
    gitcli::output(&root, &["remote", "get-url", remote]).map_err(|_| {
        Error::invalid_with_hint(
            format!("no git remote `{remote}`"),
            "`git remote -v` lists the remotes; pass one with `--remote`",
        )
    })?;
    let tracking = tracking_prefix(remote);
    let spec = format!("{REF_ROOT}*:{tracking}*");
    // `--prune`: a run the remote folded into its archive has no ref there
    // any more, and its remote-tracking ref must not bring it back.
    let args = [
        "fetch",
        "--porcelain",
        "--prune",
        "--no-tags",
        remote,
        &spec,
    ];
    let out = gitcli::run(&root, &args)?;
    let statuses = gitcli::parse_fetch_porcelain(&String::from_utf8_lossy(&out.stdout));
    let mut report = SyncReport {
        remote: remote.to_string(),
        ..Default::default()
    };
    for s in statuses.iter().filter(|s| s.rejected()) {
        let Some(rest) = s.local.strip_prefix(&tracking) else {
            continue;
        };
        report.refused.push(Refusal {
            refname: format!("{REF_ROOT}{rest}"),
            seen: s.old.clone().unwrap_or_default(),
            remote_tip: s.new.clone().unwrap_or_default(),
        });
    }
    if !out.status.success() && report.refused.is_empty() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("--porcelain") {
            return Err(Error::invalid_with_hint(
                "`git fetch --porcelain` is not supported by this git",
                "mlops sync needs git 2.41 or newer",
            ));
        }
        return Err(gitcli::failure(&args, &out));
    }
    let db = store.db();
    let theirs: BTreeMap<String, ObjectId> = db
        .refs_with_prefix(&tracking)?
        .into_iter()
        .map(|(name, id)| (format!("{REF_ROOT}{}", &name[tracking.len()..]), id))
        .collect();
    let refused: std::collections::HashSet<String> =
        report.refused.iter().map(|r| r.refname.clone()).collect();
    // The archive first: runs it holds are not created as refs again.
    if let Some(their_tip) = theirs.get(archive::REF) {
        if !refused.contains(archive::REF) {
            let ours = db.read_ref(archive::REF)?;
            integrate(store, remote, archive::REF, ours, *their_tip, &mut report)?;
        }
    }
    let archived = archive::read(db, db.read_ref(archive::REF)?)?;
    let ours: BTreeMap<String, ObjectId> = db.refs_with_prefix(REF_ROOT)?.into_iter().collect();
    let runs = format!("{REF_ROOT}runs/");
    let mut new: Vec<(String, ObjectId)> = Vec::new();
    let mut differ: Vec<(String, Option<ObjectId>, ObjectId)> = Vec::new();
    for (local_name, their_tip) in theirs {
        if refused.contains(&local_name) || local_name == archive::REF {
            continue;
        }
        if let Some(run) = local_name.strip_prefix(&runs) {
            if let Some(a) = archived.runs.get(run) {
                if *a == their_tip || db.is_ancestor(their_tip, *a)? {
                    continue;
                }
            }
        }
        match ours.get(&local_name) {
            None => new.push((local_name, their_tip)),
            Some(o) if *o == their_tip => {}
            Some(o) => differ.push((local_name, Some(*o), their_tip)),
        }
    }
    // Refs we do not have yet are created in one transaction; one that a
    // local writer created meanwhile sends them all through the one-by-one
    // path.
    let message = format!("mlops sync: from {remote}");
    if db.set_refs_packed(&new, true, &message)? {
        report.created.extend(new.into_iter().map(|(n, _)| n));
    } else {
        differ.extend(new.into_iter().map(|(n, t)| (n, None, t)));
    }
    for (local_name, ours, their_tip) in differ {
        integrate(store, remote, &local_name, ours, their_tip, &mut report)?;
    }
    // Runs another clone folded: their refs here are now redundant.
    report.unfolded_refs_removed += crate::run::fold::remove_folded_refs(store)?;
    Ok(report)
}

fn integrate(
    store: &Store,
    remote: &str,
    local_name: &str,
    ours: Option<ObjectId>,
    theirs: ObjectId,
    report: &mut SyncReport,
) -> Result<()> {
    let db = store.db();
    let (new, message, list) = match ours {
        None => (
            theirs,
            format!("mlops sync: from {remote}"),
            &mut report.created,
        ),
        Some(o) if o == theirs => return Ok(()),
        // We are ahead: the push shares it.
        Some(o) if db.is_ancestor(theirs, o)? => return Ok(()),
        Some(o) if db.is_ancestor(o, theirs)? => (
            theirs,
            format!("mlops sync: fast-forward from {remote}"),
            &mut report.fast_forwarded,
        ),
        Some(o) if local_name == archive::REF => (
            merge_archives(store, o, theirs, remote)?,
            format!("mlops sync: merge {remote}"),
            &mut report.merged,
        ),
        Some(o) => (
            union_commit(store, o, theirs, remote, local_name)?,
            format!("mlops sync: merge {remote}"),
            &mut report.merged,
        ),
    };
    match db.compare_and_swap(local_name, ours, new, &message)? {
        Swap::Done => {
            list.push(local_name.to_string());
            Ok(())
        }
        // A local writer moved the ref while we integrated the remote's:
        // say so rather than silently leave it behind.
        Swap::Lost => Err(Error::invalid_with_hint(
            format!("`{local_name}` changed locally during the sync"),
            "run `mlops sync` again",
        )),
    }
}

/// Two archives that both folded runs: every run of either, each at the
/// newer of its two tips (a run amended in both clones is merged like any
/// chain), with the index rows of the days that changed rewritten.
fn merge_archives(
    store: &Store,
    ours: ObjectId,
    theirs: ObjectId,
    remote: &str,
) -> Result<ObjectId> {
    let db = store.db();
    archive::check_marker(db, theirs)?;
    let a = archive::read(db, Some(ours))?;
    let b = archive::read(db, Some(theirs))?;
    let mut changed: BTreeMap<String, ObjectId> = BTreeMap::new();
    let mut extra_parents = Vec::new();
    for (run, tb) in &b.runs {
        let pick = match a.runs.get(run) {
            None => *tb,
            Some(ta) if ta == tb => continue,
            Some(ta) if db.is_ancestor(*ta, *tb)? => *tb,
            Some(ta) if db.is_ancestor(*tb, *ta)? => continue,
            Some(ta) => {
                let refname = format!("{REF_ROOT}runs/{run}");
                let m = union_commit(store, *ta, *tb, remote, &refname)?;
                extra_parents.push(m);
                m
            }
        };
        changed.insert(run.clone(), pick);
    }
    let (next, touched) = crate::run::fold::with_runs(store, &a, &changed)?;
    let tree = archive::write_tree(db, Some(ours), &next, &touched)?;
    let mut parents = vec![ours, theirs];
    parents.extend(extra_parents);
    db.commit(
        &format!(
            "merge the runs archive from {remote} ({} run(s) added or moved)\n",
            changed.len()
        ),
        tree,
        &parents,
    )
}

/// A commit with both tips as parents whose tree holds the records of both.
fn union_commit(
    store: &Store,
    ours: ObjectId,
    theirs: ObjectId,
    remote: &str,
    refname: &str,
) -> Result<ObjectId> {
    let db = store.db();
    let our_tree = db.commit_info(ours)?.tree;
    let their_tree = db.commit_info(theirs)?.tree;
    let mut files: BTreeMap<(String, String), ObjectId> = layout::files(db, our_tree)?
        .into_iter()
        .map(|f| ((f.folder, f.name), f.oid))
        .collect();
    let mut added = 0usize;
    for f in layout::files(db, their_tree)? {
        match files.get(&(f.folder.clone(), f.name.clone())) {
            None => {
                if f.folder != layout::ATTACHMENTS {
                    added += 1;
                }
                files.insert((f.folder, f.name), f.oid);
            }
            Some(o) if *o == f.oid => {}
            Some(_) => {
                return Err(Error::CorruptRecord {
                    id: format!("{refname}:{}/{}", f.folder, f.name),
                    reason: format!("`{remote}` holds different content under the same id"),
                })
            }
        }
    }
    let tree = layout::build_root(
        db,
        files
            .into_iter()
            .map(|((folder, name), oid)| layout::File { folder, name, oid })
            .collect(),
    )?;
    // The newest record of the merged chain, for the next append's `prev`:
    // the later of the two tips' newest records.
    let latest = [store.latest_at(ours)?, store.latest_at(theirs)?]
        .into_iter()
        .flatten()
        .max()
        .map(|(_, id)| id)
        .unwrap_or_default();
    let entity_name = refname.strip_prefix(REF_ROOT).unwrap_or(refname);
    let message = crate::store::commit_message(
        &format!("merge {entity_name} from {remote} ({added} record(s) added)"),
        &latest,
    );
    db.commit(&message, tree, &[ours, theirs])
}

/// Pulls, then pushes every local record ref (never forced; a ref the remote
/// moved meanwhile is pulled and merged again, a bounded number of times).
/// A refused (rewritten) remote ref stops the push entirely.
pub fn sync(store: &Store, remote: &str, push: bool) -> Result<SyncReport> {
    let root = store.root();
    let mut report = pull(store, remote)?;
    if !push || !report.refused.is_empty() {
        return Ok(report);
    }
    let spec = format!("{REF_ROOT}*:{REF_ROOT}*");
    let args = ["push", "--porcelain", remote, &spec];
    let mut attempt = 0;
    loop {
        // Runs travel in the archive, not as 100,000 refs.
        report.folded += crate::run::fold::fold(store)?.folded;
        let pushed: BTreeMap<String, ObjectId> =
            store.db().refs_with_prefix(REF_ROOT)?.into_iter().collect();
        let out = gitcli::run(&root, &args)?;
        let statuses = gitcli::parse_push_porcelain(&String::from_utf8_lossy(&out.stdout));
        if out.status.success() {
            report.updated_remote = statuses
                .iter()
                .filter(|s| s.flag != '=' && !s.rejected())
                .filter_map(|s| s.remote.clone())
                .collect();
            remember_pushed(store, remote, &pushed, &statuses)?;
            report.remote_refs_folded = drop_folded_remote_refs(store, remote)?;
            report.pushed = true;
            return Ok(report);
        }
        // Only a rejection (the remote moved a ref meanwhile) is worth
        // pulling and merging again; auth or network failures are not.
        if attempt < 2 && statuses.iter().any(|s| s.rejected()) {
            attempt += 1;
            let again = pull(store, remote)?;
            report.merged.extend(again.merged);
            report.fast_forwarded.extend(again.fast_forwarded);
            report.created.extend(again.created);
            report.refused.extend(again.refused);
            if !report.refused.is_empty() {
                return Ok(report);
            }
            continue;
        }
        return Err(gitcli::failure(&args, &out));
    }
}

/// Run refs on the remote whose run the pushed archive holds (pushed as refs
/// by an older mlops, or by a clone before its fold) are deleted there, each
/// only while it still points where this clone saw it (a lease): the run's
/// history is in the archive, so nothing is lost and nothing is rewritten.
fn drop_folded_remote_refs(store: &Store, remote: &str) -> Result<usize> {
    let db = store.db();
    let Some(tip) = db.read_ref(archive::REF)? else {
        return Ok(0);
    };
    let archived = archive::read(db, Some(tip))?;
    let tracking = format!("{}runs/", tracking_prefix(remote));
    let mut stale: Vec<(String, ObjectId)> = Vec::new();
    for (name, commit) in db.refs_with_prefix(&tracking)? {
        let run = &name[tracking.len()..];
        if let Some(a) = archived.runs.get(run) {
            if *a == commit || db.is_ancestor(commit, *a)? {
                stale.push((format!("{REF_ROOT}runs/{run}"), commit));
            }
        }
    }
    let root = store.root();
    let mut dropped = 0;
    for chunk in stale.chunks(500) {
        let mut args: Vec<String> = vec!["push".into(), "--porcelain".into(), "--atomic".into()];
        for (refname, commit) in chunk {
            args.push(format!("--force-with-lease={refname}:{commit}"));
        }
        args.push(remote.into());
        for (refname, _) in chunk {
            args.push(format!(":{refname}"));
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = gitcli::run(&root, &argv)?;
        if out.status.success() {
            dropped += chunk.len();
            let gone: Vec<(String, ObjectId)> = chunk
                .iter()
                .map(|(r, c)| {
                    (
                        format!("{}{}", tracking_prefix(remote), &r[REF_ROOT.len()..]),
                        *c,
                    )
                })
                .collect();
            db.delete_refs(&gone)?;
        }
    }
    Ok(dropped)
}

/// After a push, the remote holds what we pushed: that is now the last
/// remote tip this clone saw. Only refs the push changed are written.
fn remember_pushed(
    store: &Store,
    remote: &str,
    pushed: &BTreeMap<String, ObjectId>,
    statuses: &[gitcli::RefStatus],
) -> Result<()> {
    let tracking = tracking_prefix(remote);
    let db = store.db();
    let seen: BTreeMap<String, ObjectId> = db.refs_with_prefix(&tracking)?.into_iter().collect();
    let edits: Vec<(String, ObjectId)> = statuses
        .iter()
        .filter(|s| !s.rejected() && s.flag != '-')
        .filter_map(|s| {
            let id = pushed.get(&s.local)?;
            let rest = s.local.strip_prefix(REF_ROOT)?;
            let name = format!("{tracking}{rest}");
            (seen.get(&name) != Some(id)).then_some((name, *id))
        })
        .collect();
    db.set_refs_packed(&edits, false, &format!("mlops sync: pushed to {remote}"))?;
    Ok(())
}
