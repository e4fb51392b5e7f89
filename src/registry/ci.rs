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

/// The identity records made in CI are attributed to when the runner has no
/// git identity: the actor who triggered the run. GitHub: `GITHUB_ACTOR`
/// with its no-reply address (`<id>+<login>@users.noreply.github.com`, as
/// GitHub attributes web commits); GitLab: `GITLAB_USER_LOGIN` and
/// `GITLAB_USER_EMAIL`.
pub fn identity() -> Option<(String, String)> {
    if var("GITHUB_ACTIONS").is_some() {
        let login = var("GITHUB_TRIGGERING_ACTOR").or_else(|| var("GITHUB_ACTOR"))?;
        let email = match var("GITHUB_ACTOR_ID") {
            Some(id) if var("GITHUB_TRIGGERING_ACTOR").is_none() => {
                format!("{id}+{login}@users.noreply.github.com")
            }
            _ => format!("{login}@users.noreply.github.com"),
        };
        return Some((login, email));
    }
    if var("GITLAB_CI").is_some() {
        let login = var("GITLAB_USER_LOGIN")?;
        let email = var("GITLAB_USER_EMAIL")
            .filter(|e| e.contains('@'))
            .unwrap_or_else(|| format!("{login}@users.noreply.gitlab.com"));
        return Some((login, email));
    }
    None
}

/// The CI run's URL, for the commit that records an event made in CI.
pub fn run_url() -> Option<String> {
    detect().and_then(|c| c.run_url)
}
