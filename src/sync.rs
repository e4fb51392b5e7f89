//! `mlops sync`: share records with a git remote. gix cannot push, and the
//! user's own `git` carries their credentials, so the transport is
//! `git fetch` / `git push`; what git cannot do is merge two chains of the
//! same entity that grew independently in two clones. Records are immutable
//! and content-addressed, so the merge is the union of both trees, committed
//! with both tips as parents: it can never conflict, and `verify` checks that
//! it dropped nothing. Nothing is ever force-pushed.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::gitcli;
use crate::store::{Store, Swap, REF_ROOT};

/// A ref moved by a local writer while we integrated the remote's: say so
/// rather than silently leave it behind.
fn swapped(result: Swap, refname: &str) -> Result<()> {
    match result {
        Swap::Done => Ok(()),
        Swap::Lost => Err(Error::invalid_with_hint(
            format!("`{refname}` changed locally during the sync"),
            "run `mlops sync` again",
        )),
    }
}

#[derive(Debug, Default, Serialize)]
pub struct SyncReport {
    pub remote: String,
    /// Refs created locally from the remote.
    pub created: Vec<String>,
    /// Refs fast-forwarded to the remote's tip.
    pub fast_forwarded: Vec<String>,
    /// Refs where both sides had new events, merged as a union.
    pub merged: Vec<String>,
    pub pushed: bool,
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
    let spec = format!("+{REF_ROOT}*:{}*", tracking_prefix(remote));
    gitcli::output(&root, &["fetch", "--no-tags", "--quiet", remote, &spec])?;
    let mut report = SyncReport {
        remote: remote.to_string(),
        ..Default::default()
    };
    let db = store.db();
    for (name, theirs) in db.refs_with_prefix(&tracking_prefix(remote))? {
        let local_name = format!("{REF_ROOT}{}", &name[tracking_prefix(remote).len()..]);
        let ours = db.read_ref(&local_name)?;
        match ours {
            None => {
                swapped(
                    db.compare_and_swap(
                        &local_name,
                        None,
                        theirs,
                        &format!("mlops sync: from {remote}"),
                    )?,
                    &local_name,
                )?;
                report.created.push(local_name);
            }
            Some(o) if o == theirs => {}
            Some(o) => {
                let o_hex = o.to_string();
                let t_hex = theirs.to_string();
                if gitcli::try_output(&root, &["merge-base", "--is-ancestor", &t_hex, &o_hex])
                    .is_some()
                {
                    continue; // we are ahead; push will share it
                }
                if gitcli::try_output(&root, &["merge-base", "--is-ancestor", &o_hex, &t_hex])
                    .is_some()
                {
                    swapped(
                        db.compare_and_swap(
                            &local_name,
                            Some(o),
                            theirs,
                            &format!("mlops sync: fast-forward from {remote}"),
                        )?,
                        &local_name,
                    )?;
                    report.fast_forwarded.push(local_name);
                    continue;
                }
                let merged = union_commit(store, o, theirs, remote, &local_name)?;
                swapped(
                    db.compare_and_swap(
                        &local_name,
                        Some(o),
                        merged,
                        &format!("mlops sync: merge {remote}"),
                    )?,
                    &local_name,
                )?;
                report.merged.push(local_name);
            }
        }
    }
    Ok(report)
}

fn union_commit(
    store: &Store,
    ours: gix::ObjectId,
    theirs: gix::ObjectId,
    remote: &str,
    refname: &str,
) -> Result<gix::ObjectId> {
    let db = store.db();
    let our_info = db.commit_info(ours)?;
    let their_info = db.commit_info(theirs)?;
    let our_files: std::collections::BTreeMap<String, gix::ObjectId> =
        db.tree_listing(our_info.tree)?.into_iter().collect();
    let mut missing = Vec::new();
    for (path, id) in db.tree_listing(their_info.tree)? {
        match our_files.get(&path) {
            None => missing.push((path, id)),
            Some(o) if *o == id => {}
            Some(_) => {
                return Err(Error::CorruptRecord {
                    id: format!("{refname}:{path}"),
                    reason: format!("`{remote}` holds different content under the same id"),
                })
            }
        }
    }
    let tree = db.tree_with_blobs(our_info.tree, &missing)?;
    // The merged chain's newest record, for the next append's `prev`.
    let entity_name = refname.strip_prefix(REF_ROOT).unwrap_or(refname);
    let latest = {
        let tmp_records = db.read_tree_files(tree, &["attachments"])?;
        let records: Vec<crate::record::Record> = tmp_records
            .into_iter()
            .filter(|(folder, _, _)| folder != "attachments")
            .filter_map(|(_, file, bytes)| {
                crate::record::Record::from_bytes(&bytes, Some(file.trim_end_matches(".json"))).ok()
            })
            .collect();
        crate::store::order::causal(records)
            .last()
            .map(|r| r.id().to_string())
    };
    let message = format!(
        "merge {entity_name} from {remote} ({} record(s) added)\n\nMlops-Record: {}\n",
        missing
            .iter()
            .filter(|(p, _)| !p.starts_with("attachments/"))
            .count(),
        latest.unwrap_or_default()
    );
    db.commit(&message, tree, &[ours, theirs])
}

/// Pulls, then pushes every local record ref (never forced; a ref the remote
/// moved meanwhile is pulled and merged again, a bounded number of times).
pub fn sync(store: &Store, remote: &str, push: bool) -> Result<SyncReport> {
    let root = store.root();
    let mut report = pull(store, remote)?;
    if !push {
        return Ok(report);
    }
    let spec = format!("{REF_ROOT}*:{REF_ROOT}*");
    let mut attempt = 0;
    loop {
        match gitcli::output(&root, &["push", "--quiet", remote, &spec]) {
            Ok(_) => {
                report.pushed = true;
                return Ok(report);
            }
            // Only a rejection (the remote moved a ref meanwhile) is worth
            // pulling and merging again; auth or network failures are not.
            Err(Error::Git(e)) if attempt < 2 && e.contains("failed to push some refs") => {
                attempt += 1;
                let again = pull(store, remote)?;
                report.merged.extend(again.merged);
                report.fast_forwarded.extend(again.fast_forwarded);
                report.created.extend(again.created);
            }
            Err(e) => return Err(e),
        }
    }
}
