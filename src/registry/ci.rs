//! The CI context of a promotion (who ran it, in which pipeline, for which
//! pull request), read from GitHub Actions' and GitLab CI's variables, so the
//! record links to the review that justified it.

use crate::context::var;
use crate::registry::records::CiContext;

pub fn detect() -> Option<CiContext> {
    if var("GITHUB_ACTIONS").is_some() {
        let run_url = match (
            var("GITHUB_SERVER_URL"),
            var("GITHUB_REPOSITORY"),
            var("GITHUB_RUN_ID"),
        ) {
            (Some(s), Some(r), Some(id)) => Some(format!("{s}/{r}/actions/runs/{id}")),
            _ => None,
        };
        let pr = var("GITHUB_REF")
            .and_then(|r| {
                r.strip_prefix("refs/pull/")
                    .map(|x| x.split('/').next().unwrap_or("").to_string())
            })
            .filter(|s| !s.is_empty());
        return Some(CiContext {
            provider: "github-actions".into(),
            run_url,
            pull_request: pr,
            pr_author: var("GITHUB_ACTOR"),
            actor: var("GITHUB_TRIGGERING_ACTOR").or_else(|| var("GITHUB_ACTOR")),
            commit: var("GITHUB_SHA"),
        });
    }
    if var("GITLAB_CI").is_some() {
        return Some(CiContext {
            provider: "gitlab-ci".into(),
            run_url: var("CI_PIPELINE_URL"),
            pull_request: var("CI_MERGE_REQUEST_IID"),
            pr_author: var("CI_MERGE_REQUEST_AUTHOR").or_else(|| var("GITLAB_USER_LOGIN")),
            actor: var("GITLAB_USER_LOGIN"),
            commit: var("CI_COMMIT_SHA"),
        });
    }
    None
}
