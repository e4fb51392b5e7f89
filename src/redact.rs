//! Deciding what is secret in the text a run is recorded with, and replacing
//! it with `<redacted>`. Records are immutable and pushed to shared remotes:
//! a token that reaches one cannot be taken back short of rewriting every
//! clone, so whatever looks like a credential is removed before the record is
//! written, and the record lists which fields were touched (never the values).
//!
//! Three detectors, each cheap and explainable:
//! - **names**: a value whose name (a flag, a `KEY=`, a param, a header, a
//!   JSON key) looks like a secret: `--token X`, `password=X`,
//!   `Authorization: X`, `"api_key": "X"`;
//! - **shapes**: credentials that announce themselves wherever they appear
//!   (GitHub, AWS, Slack, JWT, private key blocks, Google, Stripe, Hugging
//!   Face, OpenAI, GitLab, ...), and credentials inside URLs;
//! - **known values**: the values of the process's own secret-named
//!   environment variables (`$WANDB_API_KEY` passed as a bare argument has no
//!   hint and no shape, but mlops can see it is that variable's value).
//!
//! What none of them can see (a bare secret with no hint, no known shape and
//! not in the environment) is listed in docs/privacy.md; `--no-command`
//! exists for that case.

use std::collections::BTreeMap;

use serde_json::Value;

pub const REDACTED: &str = "<redacted>";

/// Words that make a name secret wherever they appear in it (matched inside a
/// word, so `dbpassword` and `AccessKeyId`'s `accesskey` count).
const SECRET_INFIXES: [&str; 10] = [
    "password",
    "passwd",
    "passphrase",
    "secret",
    "credential",
    "apikey",
    "accesskey",
    "privatekey",
    "cookie",
    "bearer",
];

/// Words that make a name secret only as a whole word: as infixes they would
/// hit `bypass`, `compass`, `sessions`, `pattern`.
const SECRET_WORDS: [&str; 15] = [
    "pass",
    "pwd",
    "pw",
    "creds",
    "cred",
    "auth",
    "authn",
    "authz",
    "oauth",
    "session",
    "sessionid",
    "tok",
    "pat",
    "jwt",
    "signature",
];

/// Two adjacent words that together name a secret (`api_key`, `AccountKey`):
/// `key` alone is not one (`sort_key`, `primary_key`, `key_column`).
const SECRET_PAIRS: [(&str, &str); 11] = [
    ("api", "key"),
    ("access", "key"),
    ("private", "key"),
    ("signing", "key"),
    ("encryption", "key"),
    ("master", "key"),
    ("account", "key"),
    ("license", "key"),
    ("client", "key"),
    ("shared", "key"),
    ("connection", "string"),
];

/// `token` after one of these is vocabulary, not a credential: `pad_token`,
/// `eos_token`, `max_token` are everyday tokenizer and generation params.
const VOCABULARY_TOKENS: [&str; 16] = [
    "pad", "eos", "bos", "unk", "cls", "sep", "mask", "sos", "start", "end", "special", "max",
    "min", "num", "n", "per",
];

/// A name ending in one of these describes a secret without holding it:
/// `token_file`, `password_env`, `max_token_length`, `auth_type`. The value
/// is still checked for shapes.
const DESCRIPTIVE_ENDINGS: [&str; 30] = [
    "length", "len", "limit", "limits", "count", "size", "num", "max", "min", "ids", "file",
    "path", "dir", "url", "uri", "endpoint", "type", "kind", "name", "env", "var", "method",
    "mode", "scheme", "provider", "enabled", "required", "ttl", "timeout", "expiry",
];

/// Query parameters that carry a credential in a URL only: `sig` (Azure SAS
/// and other signed URLs), `key` (Google APIs). As names elsewhere they are
/// too common to redact.
const SECRET_QUERY_PARAMS: [&str; 2] = ["sig", "key"];

/// Values shorter than this from secret-named variables are not searched for:
/// `DB_PASSWORD=x` would otherwise redact every `x`.
const MIN_KNOWN_LEN: usize = 8;

/// Whether a name (a flag, a param, a header, a variable) looks like it holds
/// a secret. Case-insensitive; `_`, `-`, `.`, spaces and camelCase all split
/// words, so `db.password`, `DB_PASSWORD`, `dbPassword` and `--db-password`
/// are the same name.
pub fn is_secret_name(name: &str) -> bool {
    let words = words(name);
    if words.len() > 1 && DESCRIPTIVE_ENDINGS.contains(&words[words.len() - 1].as_str()) {
        return false;
    }
    words.iter().enumerate().any(|(i, w)| {
        let prev = i.checked_sub(1).map(|j| words[j].as_str());
        secret_word(w, prev)
            || prev.is_some_and(|p| SECRET_PAIRS.iter().any(|(a, b)| *a == p && b == w))
    })
}

fn secret_word(w: &str, prev: Option<&str>) -> bool {
    if SECRET_INFIXES.iter().any(|m| w.contains(m)) || SECRET_WORDS.contains(&w) {
        return true;
    }
    if w == "token" {
        return !prev.is_some_and(|p| VOCABULARY_TOKENS.contains(&p));
    }
    // `authtoken`, `hftoken`, `basicauth`, `dbpwd`, `authorization`.
    w.ends_with("token") || w.ends_with("auth") || w.ends_with("pwd") || w.starts_with("authoriz")
}

/// The lowercase words of a name: split on anything not a letter or digit
/// and at camelCase boundaries (`XApiKey` → `x`, `api`, `key`).
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if c.is_ascii_uppercase() && !cur.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase() || (next_lower && !prev.is_ascii_lowercase()) {
                out.push(std::mem::take(&mut cur));
            }
        }
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A redactor for one run: the detectors above plus the values of the
/// process's secret-named environment variables.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    known: Vec<String>,
}

impl Redactor {
    /// `vars` is the process environment (`context::vars()`): the values of
    /// its secret-named variables become known secrets.
    pub fn new(vars: &[(String, String)]) -> Redactor {
        let mut known: Vec<String> = vars
            .iter()
            .filter(|(k, v)| is_secret_env_name(k) && v.len() >= MIN_KNOWN_LEN)
            .map(|(_, v)| v.clone())
            .collect();
        // Longest first, so a value that contains another goes whole.
        known.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        known.dedup();
        Redactor { known }
    }

    /// The command line with secret values replaced; the index of every
    /// changed argument is pushed to `fields` as `command[i]`.
    pub fn command(&self, argv: &[String], fields: &mut Vec<String>) -> Vec<String> {
        let mut out = Vec::with_capacity(argv.len());
        let mut expect = Expect::Nothing;
        for (i, arg) in argv.iter().enumerate() {
            let redacted = match expect {
                Expect::Secret if !arg.starts_with("--") => Some(REDACTED.to_string()),
                Expect::UserPassword => user_password(arg),
                _ => None,
            }
            .or_else(|| assignment_argument(arg))
            .map(|r| self.text(&r).unwrap_or(r))
            .or_else(|| self.text(arg));
            expect = expectation(arg);
            if redacted.is_some() {
                fields.push(format!("command[{i}]"));
            }
            out.push(redacted.unwrap_or_else(|| arg.clone()));
        }
        out
    }

    /// Params (or tags): a secret-named value becomes `<redacted>` (booleans
    /// carry no secret and stay), any other string value is scrubbed. Changed
    /// names are pushed to `fields` as `{section}.{name}`.
    pub fn params(
        &self,
        section: &str,
        params: &mut BTreeMap<String, Value>,
        fields: &mut Vec<String>,
    ) {
        for (k, v) in params.iter_mut() {
            let replaced = if is_secret_name(k) && !v.is_boolean() {
                (v.as_str() != Some(REDACTED)).then(|| Value::from(REDACTED))
            } else {
                v.as_str().and_then(|s| self.text(s)).map(Value::from)
            };
            if let Some(r) = replaced {
                *v = r;
                fields.push(format!("{section}.{k}"));
            }
        }
    }

    /// Tags: as params, their values being strings.
    pub fn tags(&self, tags: &mut BTreeMap<String, String>, fields: &mut Vec<String>) {
        for (k, v) in tags.iter_mut() {
            let replaced = if is_secret_name(k) {
                (v != REDACTED).then(|| REDACTED.to_string())
            } else {
                self.text(v)
            };
            if let Some(r) = replaced {
                *v = r;
                fields.push(format!("tags.{k}"));
            }
        }
    }

    /// Free text (a note, a name, an argument) with every secret found in it
    /// replaced, or `None` when there is none.
    pub fn text(&self, s: &str) -> Option<String> {
        let mut t = s.to_string();
        for known in &self.known {
            if t.contains(known.as_str()) {
                t = t.replace(known.as_str(), REDACTED);
            }
        }
        t = private_key_blocks(&t);
        t = url_credentials(&t);
        t = replace_spans(&t, token_shapes(&t));
        t = replace_spans(&t, named_values(&t));
        t = replace_spans(&t, flag_values_in_text(&t));
        (t != s).then_some(t)
    }
}

/// Free text a person typed for a record (a note, a reason, a description, a
/// data source), with any secret in it replaced: a token pasted into a note
/// is as leaked as one on a command line.
pub fn free_text(s: &str) -> String {
    Redactor::new(&crate::context::vars())
        .text(s)
        .unwrap_or_else(|| s.to_string())
}

/// The environment variables that are never recorded and whose values are
/// known secrets: the name test above, and `KEY` as a word counts here
/// (`KAGGLE_KEY`, `AZURE_STORAGE_KEY`): variables are captured only when
/// named, so a false alarm costs one variable, and a variable named `*_KEY`
/// nearly always holds a credential. `KEY_DIR` describes one and is not.
pub fn is_secret_env_name(name: &str) -> bool {
    if is_secret_name(name) {
        return true;
    }
    let words = words(name);
    words.iter().any(|w| w == "key")
        && !words
            .last()
            .is_some_and(|l| DESCRIPTIVE_ENDINGS.contains(&l.as_str()))
}

#[derive(Clone, Copy)]
enum Expect {
    Nothing,
    /// After `--token`: the next argument is the secret.
    Secret,
    /// After `-u`/`--user` (curl): `user:password`.
    UserPassword,
}

/// What the argument after `arg` is, when `arg` is a flag that takes it.
/// Short flags are never secret flags (`-p` is a port as often as a
/// password); the one exception is curl's `-u user:password`, whose value
/// is checked for that form before anything is redacted.
fn expectation(arg: &str) -> Expect {
    if arg == "-u" || arg == "--user" {
        return Expect::UserPassword;
    }
    if is_secret_flag(arg) {
        Expect::Secret
    } else {
        Expect::Nothing
    }
}

/// `--token`, `--db-password`, `-password` (Go and Java style): a flag,
/// not a short one, not `--no-…`, with a secret name and no `=value`.
fn is_secret_flag(word: &str) -> bool {
    let Some(body) = word.strip_prefix('-') else {
        return false;
    };
    let body = body.trim_start_matches('-');
    body.len() >= 2
        && !body.starts_with("no-")
        && !body.starts_with("no_")
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && is_secret_name(body)
}

/// curl's `-u alice:s3cret` → `alice:<redacted>`. A numeric part after the
/// colon is left (`docker run -u 1000:1000` is a uid and gid).
fn user_password(arg: &str) -> Option<String> {
    let (user, pass) = arg.split_once(':')?;
    if pass.is_empty() || pass == REDACTED || pass.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(format!("{user}:{REDACTED}"))
}

/// A whole argument `NAME=value` or `--name=value` with a secret name: the
/// value is everything after `=` (the shell already split the arguments, so
/// a value with spaces is still one value).
fn assignment_argument(arg: &str) -> Option<String> {
    let (name, value) = arg.split_once('=')?;
    let bare = name.trim_start_matches('-');
    let name_like = !bare.is_empty()
        && bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '~'));
    (name_like && !value.is_empty() && value != REDACTED && is_secret_name(bare))
        .then(|| format!("{name}={REDACTED}"))
}

/// Replaces byte spans (sorted, non-overlapping after merging) with
/// `<redacted>`.
fn replace_spans(s: &str, mut spans: Vec<(usize, usize)>) -> String {
    if spans.is_empty() {
        return s.to_string();
    }
    spans.sort();
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for (start, end) in spans {
        if start < at {
            // Overlaps the previous span: extend it.
            if end > at {
                at = end;
            }
            continue;
        }
        out.push_str(&s[at..start]);
        out.push_str(REDACTED);
        at = end;
    }
    out.push_str(&s[at..]);
    out
}

fn is_quote(b: u8) -> bool {
    b == b'"' || b == b'\''
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// `-----BEGIN … PRIVATE KEY-----` through its `-----END …-----` line (or the
/// end of the text when the block is cut short): the whole block goes.
fn private_key_blocks(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(begin) = rest.find("-----BEGIN ") {
        let after = &rest[begin + 11..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        if !after[..label_end].contains("PRIVATE KEY") {
            out.push_str(&rest[..begin + 11]);
            rest = after;
            continue;
        }
        out.push_str(&rest[..begin]);
        out.push_str(REDACTED);
        let body = &after[label_end + 5..];
        rest = match body.find("-----END ") {
            Some(e) => {
                let tail = &body[e + 9..];
                match tail.find("-----") {
                    Some(close) => &tail[close + 5..],
                    None => "",
                }
            }
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// Shorter user-only credentials are taken for user names (`ssh://git@…`).
const MIN_USER_TOKEN_LEN: usize = 20;

/// `scheme://user:password@host` → `scheme://<redacted>@host`. The user
/// goes too: it is often the token itself (`https://oauth2:TOKEN@gitlab.com`).
/// A user alone (`ssh://git@host`) stays unless it is as long as a token.
fn url_credentials(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(rel) = s[from..].find("://") {
        let start = from + rel + 3;
        let end = s[start..]
            .find(|c: char| {
                matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == '"' || c == '\''
            })
            .map(|e| start + e)
            .unwrap_or(s.len());
        if let Some(at) = s[start..end].rfind('@') {
            let creds = &s[start..start + at];
            let secret = creds.contains(':') || creds.len() >= MIN_USER_TOKEN_LEN;
            if secret && creds != REDACTED {
                spans.push((start, start + at));
            }
        }
        from = end.max(start);
        if from >= bytes.len() {
            break;
        }
    }
    replace_spans(s, spans)
}

/// Webhook URLs whose path is the credential: the path after the prefix goes.
const WEBHOOKS: [&str; 3] = [
    "hooks.slack.com/services/",
    "discord.com/api/webhooks/",
    "discordapp.com/api/webhooks/",
];

/// Credentials that announce themselves by their shape, found anywhere.
fn token_shapes(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut spans = Vec::new();
    for hook in WEBHOOKS {
        for (at, _) in s.match_indices(hook) {
            let start = at + hook.len();
            let end = run_end(b, start, |c| base64url(c) || c == b'/');
            if end > start {
                spans.push((start, end));
            }
        }
    }
    let mut i = 0;
    while i < b.len() {
        let boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if boundary {
            if let Some(end) = shape_at(b, i) {
                spans.push((i, end));
                i = end;
                continue;
            }
        }
        i += 1;
    }
    spans
}

/// The end of the run of bytes from `at` that satisfy `ok`.
fn run_end(b: &[u8], at: usize, ok: impl Fn(u8) -> bool) -> usize {
    let mut e = at;
    while e < b.len() && ok(b[e]) {
        e += 1;
    }
    e
}

fn alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

fn base64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// A token starting at `i`: the end of its span, or `None`.
fn shape_at(b: &[u8], i: usize) -> Option<usize> {
    let rest = &b[i..];
    // (prefix, allowed characters after it, the least number of them).
    type Rule = (&'static [u8], fn(u8) -> bool, usize);
    const RULES: [Rule; 19] = [
        // GitHub: classic, OAuth, user-to-server, server-to-server, refresh.
        (b"ghp_", alnum, 30),
        (b"gho_", alnum, 30),
        (b"ghu_", alnum, 30),
        (b"ghs_", alnum, 30),
        (b"ghr_", alnum, 30),
        (
            b"github_pat_",
            |c| c.is_ascii_alphanumeric() || c == b'_',
            22,
        ),
        // Slack bot, app, user, refresh and legacy tokens.
        (b"xoxb-", base64url, 10),
        (b"xoxa-", base64url, 10),
        (b"xoxp-", base64url, 10),
        (b"xoxr-", base64url, 10),
        (b"xoxs-", base64url, 10),
        // Google API keys and OAuth access tokens.
        (b"AIza", base64url, 30),
        (b"ya29.", base64url, 20),
        // Stripe live and test, secret and restricted keys.
        (b"sk_live_", alnum, 16),
        (b"rk_live_", alnum, 16),
        (b"sk_test_", alnum, 16),
        // Hugging Face, GitLab, npm.
        (b"hf_", |c| c.is_ascii_alphabetic(), 30),
        (b"glpat-", base64url, 20),
        (b"npm_", alnum, 30),
    ];
    for (prefix, ok, least) in RULES {
        if rest.starts_with(prefix) {
            let end = run_end(b, i + prefix.len(), ok);
            if end - (i + prefix.len()) >= least {
                return Some(end);
            }
        }
    }
    // OpenAI and Anthropic (`sk-…`, `sk-proj-…`, `sk-ant-…`): `sk-` is also
    // how a kebab-case name can start (`sk-learn-models-2024`), so the key
    // must be long and mix capitals and digits, as generated keys do.
    if rest.starts_with(b"sk-") {
        let end = run_end(b, i + 3, base64url);
        let key = &b[i + 3..end];
        if key.len() >= 32
            && key.iter().any(u8::is_ascii_uppercase)
            && key.iter().any(u8::is_ascii_digit)
        {
            return Some(end);
        }
    }
    // PyPI upload tokens: `pypi-` + a macaroon, which always starts `AgE`.
    if rest.starts_with(b"pypi-AgE") {
        let end = run_end(b, i + 8, base64url);
        if end - (i + 8) >= 30 {
            return Some(end);
        }
    }
    // AWS access key ids: AKIA (long-term) or ASIA (temporary) + 16.
    if rest.starts_with(b"AKIA") || rest.starts_with(b"ASIA") {
        let end = run_end(b, i + 4, |c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if end - (i + 4) == 16 && !b.get(end).is_some_and(|c| c.is_ascii_alphanumeric()) {
            return Some(end);
        }
    }
    // Databricks personal access tokens: dapi + 32 hex.
    if rest.starts_with(b"dapi") {
        let end = run_end(b, i + 4, |c| c.is_ascii_hexdigit());
        if end - (i + 4) >= 32 {
            return Some(end);
        }
    }
    // JWT: base64url header `eyJ…`, `.`, payload `eyJ…`, `.`, signature.
    if rest.starts_with(b"eyJ") {
        let h = run_end(b, i, base64url);
        if b.get(h) == Some(&b'.') && b[h + 1..].starts_with(b"eyJ") {
            let p = run_end(b, h + 1, base64url);
            if b.get(p) == Some(&b'.') {
                return Some(run_end(b, p + 1, base64url));
            }
        }
    }
    None
}

/// Values after a secret name in free text: `password=x`, `?token=x`,
/// `Authorization: Bearer x`, `"api_key": "x"`, `{'password': 'x'}`.
fn named_values(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut spans = Vec::new();
    for (i, &c) in b.iter().enumerate() {
        if c != b'=' && c != b':' {
            continue;
        }
        if c == b'=' && (b.get(i + 1) == Some(&b'=') || i > 0 && b"=!<>".contains(&b[i - 1])) {
            continue; // a comparison
        }
        // The name: optional spaces (`password = x`), an optional closing
        // quote (`"password":`), then the name's bytes.
        let mut n_end = i;
        while n_end > 0 && b[n_end - 1] == b' ' {
            n_end -= 1;
        }
        let quoted = n_end > 0 && is_quote(b[n_end - 1]);
        if quoted {
            n_end -= 1;
        }
        let mut n_start = n_end;
        while n_start > 0 && is_name_byte(b[n_start - 1]) {
            n_start -= 1;
        }
        if n_start == n_end {
            continue;
        }
        let name = &s[n_start..n_end];
        let before = n_start.checked_sub(1).map(|j| b[j]);
        if c == b':' {
            // `https://`, `host:port`, `user@host:path` are not headers.
            if matches!(b.get(i + 1), Some(b'/' | b':')) || matches!(before, Some(b'/' | b'@')) {
                continue;
            }
        }
        let in_query = c == b'=' && matches!(before, Some(b'?' | b'&'));
        let secret = is_secret_name(name)
            || in_query && SECRET_QUERY_PARAMS.contains(&name.to_ascii_lowercase().as_str());
        if !secret {
            continue;
        }
        let mut v = i + 1;
        while v < b.len() && b[v] == b' ' {
            v += 1;
        }
        if v >= b.len() {
            continue;
        }
        let (start, end) = if is_quote(b[v]) {
            let close = s[v + 1..]
                .find(b[v] as char)
                .map(|e| v + 1 + e)
                .unwrap_or(s.len());
            (v + 1, close)
        } else if c == b'=' {
            (
                v,
                run_end(b, v, |x| {
                    !x.is_ascii_whitespace()
                        && !matches!(x, b'&' | b';' | b'"' | b'\'' | b',' | b')' | b']' | b'}')
                }),
            )
        } else if quoted {
            // JSON or a Python dict: up to the next separator.
            (
                v,
                run_end(b, v, |x| !matches!(x, b',' | b'}' | b'\n' | b'\r')),
            )
        } else {
            // A header (`Authorization: Bearer x`): to the end of the line
            // or of the quoted argument it sits in.
            (
                v,
                run_end(b, v, |x| !matches!(x, b'\n' | b'\r' | b'"' | b'\'')),
            )
        };
        let value = s[start..end].trim_end();
        if !value.is_empty() && value != REDACTED {
            spans.push((start, start + value.len()));
        }
    }
    spans
}

/// `--token X` inside one argument (`sh -c "train --token X"`) or a note:
/// the word after a secret flag, or after `Bearer`. A quoted value goes to
/// its closing quote.
fn flag_values_in_text(s: &str) -> Vec<(usize, usize)> {
    if !s.contains(char::is_whitespace) {
        return Vec::new();
    }
    let b = s.as_bytes();
    let mut words: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let end = run_end(b, i, |c| !c.is_ascii_whitespace());
        words.push((i, end));
        i = end;
    }
    let mut spans = Vec::new();
    for pair in words.windows(2) {
        let (fs, fe) = pair[0];
        let flag = s[fs..fe].trim_start_matches(['"', '\'']);
        let bearer = flag.eq_ignore_ascii_case("bearer");
        if !(bearer || is_secret_flag(flag)) {
            continue;
        }
        let (vs, ve) = pair[1];
        let value = &s[vs..ve];
        // After `Bearer` only what is as long as a token (`Bearer auth` is prose).
        if value.starts_with("--") || bearer && value.len() < MIN_KNOWN_LEN {
            continue;
        }
        let span = if is_quote(b[vs]) {
            let close = s[vs + 1..]
                .find(b[vs] as char)
                .map(|e| vs + 1 + e)
                .unwrap_or(s.len());
            (vs + 1, close)
        } else {
            // The closing quote of an enclosing string stays.
            let trimmed = value.trim_end_matches(['"', '\'', ';', ')']);
            (vs, vs + trimmed.len())
        };
        if span.1 > span.0 && &s[span.0..span.1] != REDACTED {
            spans.push(span);
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> Redactor {
        Redactor::default()
    }

    fn cmd(args: &[&str]) -> (Vec<String>, Vec<String>) {
        let argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut fields = Vec::new();
        let out = r().command(&argv, &mut fields);
        (out, fields)
    }

    #[test]
    fn secret_names_in_every_spelling() {
        for n in [
            "token",
            "GITHUB_TOKEN",
            "hfToken",
            "authtoken",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY_ID",
            "secretAccessKey",
            "db.password",
            "DB_PASSWD",
            "dbPwd",
            "pwd",
            "passphrase",
            "api_key",
            "apiKey",
            "x-api-key",
            "XApiKey",
            "APIKey",
            "private_key",
            "client_secret",
            "credentials",
            "auth",
            "Authorization",
            "Proxy-Authorization",
            "Cookie",
            "session",
            "signature",
            "bearer",
            "AccountKey",
            "connection_string",
            "CUDA_API_TOK",
            "hub.auth",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in [
            "tokenizer",
            "max_tokens",
            "pad_token",
            "eos_token_id",
            "max_token_length",
            "token_file",
            "password_env",
            "auth_type",
            "author",
            "epochs",
            "lr",
            "sort_key",
            "key",
            "primary_key",
            "bypass",
            "compass",
            "sessions",
            "pattern",
            "CUDA_VISIBLE_DEVICES",
            "OMP_NUM_THREADS",
            "HOME",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn secret_flags_keep_their_names() {
        let (out, fields) = cmd(&[
            "python",
            "train.py",
            "--token",
            "abc123",
            "--password=hunter2",
            "--api-key",
            "k-1",
            "-password",
            "p",
            "--epochs",
            "3",
            "-p",
            "8080",
            "--use-auth",
            "--lr",
            "0.1",
            "--no-auth",
            "x",
        ]);
        assert_eq!(
            out,
            [
                "python",
                "train.py",
                "--token",
                REDACTED,
                "--password=<redacted>",
                "--api-key",
                REDACTED,
                "-password",
                REDACTED,
                "--epochs",
                "3",
                "-p",
                "8080",
                "--use-auth",
                "--lr",
                "0.1",
                "--no-auth",
                "x",
            ]
        );
        assert_eq!(
            fields,
            ["command[3]", "command[4]", "command[6]", "command[8]"]
        );
    }

    #[test]
    fn headers_urls_and_assignments() {
        let (out, _) = cmd(&[
            "curl",
            "-H",
            "Authorization: Bearer abc.def",
            "--header",
            "X-Api-Key: k123",
            "-HCookie: sid=1",
            "--header=Proxy-Authorization: Basic Zm9v",
            "-H",
            "Accept: application/json",
            "https://u:p@host.example/x?page=2&access_token=tt&sig=ss&key=kk",
            "postgres://u:p@db:5432/x",
            "git@github.com:a/b.git",
            "AWS_SECRET_ACCESS_KEY=s e c",
            "db.password=x",
            "lr=0.1",
            "-u",
            "alice:s3cret",
        ]);
        assert_eq!(
            out,
            [
                "curl",
                "-H",
                "Authorization: <redacted>",
                "--header",
                "X-Api-Key: <redacted>",
                "-HCookie: <redacted>",
                "--header=Proxy-Authorization: <redacted>",
                "-H",
                "Accept: application/json",
                "https://<redacted>@host.example/x?page=2&access_token=<redacted>&sig=<redacted>&key=<redacted>",
                "postgres://<redacted>@db:5432/x",
                "git@github.com:a/b.git",
                "AWS_SECRET_ACCESS_KEY=<redacted>",
                "db.password=<redacted>",
                "lr=0.1",
                "-u",
                "alice:<redacted>",
            ]
        );
        let (out, _) = cmd(&["docker", "run", "-u", "1000:1000", "python", "-u", "t.py"]);
        assert_eq!(out[3], "1000:1000");
        assert_eq!(out[6], "t.py");
    }

    #[test]
    fn shapes_are_found_anywhere() {
        let gh = "ghp_VvVqE1SkHbn88HxjSI6bWHtP3fS2qHx6kwXo";
        for (text, want) in [
            ("ghp_short".to_string(), None),
            (format!("use {gh} now"), Some("use <redacted> now".to_string())),
            (
                "key AKIAJ3J4WJ99IBAG7I1M.".into(),
                Some("key <redacted>.".into()),
            ),
            ("AKIAJ3J4WJ99IBAG7I1MX".into(), None),
            (
                "xoxb-682828807290-2227918058887-YXg4Jdpm".into(),
                Some(REDACTED.into()),
            ),
            (
                "t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc_-1".into(),
                Some("t=<redacted>".into()),
            ),
            (
                "AIzazJ59FHz5r1pY4OjE2jBMptUsGr7CmY-uCu3".into(),
                Some(REDACTED.into()),
            ),
            ("sk_live_GzvAmwufUxbvJDCTbyvHNsG9".into(), Some(REDACTED.into())),
            (
                "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".into(),
                Some(REDACTED.into()),
            ),
            (
                "sk-proj-Ab3dEfGh1jKlMn0pQrStUvWxYz012345".into(),
                Some(REDACTED.into()),
            ),
            ("/data/sk-learn-models-experiment-2024/x".into(), None),
            (
                "a\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\nz"
                    .into(),
                Some("a\n<redacted>\nz".into()),
            ),
            (
                "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----".into(),
                None,
            ),
            // Commit hashes, file names and ordinary words stay.
            ("9fceb02d0ae598e95dc970b74767f19372d61af8".into(), None),
            ("sk-learn scikit-learn eyJ alone".into(), None),
        ] {
            assert_eq!(r().text(&text), want, "{text}");
        }
    }

    #[test]
    fn free_text_and_scripts() {
        for (text, want) in [
            (
                "python t.py --db-password 'a b' --epochs 3",
                "python t.py --db-password '<redacted>' --epochs 3",
            ),
            (
                "echo '{\"api_key\": \"k1\", \"lr\": 0.1}'",
                "echo '{\"api_key\": \"<redacted>\", \"lr\": 0.1}'",
            ),
            (
                "connect(password=\"x y\", host=h)",
                "connect(password=\"<redacted>\", host=h)",
            ),
            (
                "curl -H \"Authorization: Bearer t\" https://h/x",
                "curl -H \"Authorization: <redacted>\" https://h/x",
            ),
            (
                "host=db user=etl password=pw1 dbname=x",
                "host=db user=etl password=<redacted> dbname=x",
            ),
            (
                "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc==;EndpointSuffix=x",
                "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=<redacted>;EndpointSuffix=x",
            ),
            ("sent with Bearer abcdef12", "sent with Bearer <redacted>"),
            (
                "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
                "https://hooks.slack.com/services/<redacted>",
            ),
            ("https://abcdefghij0123456789@h/x", "https://<redacted>@h/x"),
        ] {
            assert_eq!(r().text(text).as_deref(), Some(want), "{text}");
        }
        for text in [
            "python train.py --epochs 3 --lr 0.1",
            "http://session-host:8080/x",
            "if [ \"$a\" == \"b\" ]; then :; fi",
            "ratio: 3:1",
            "ssh://git@github.com/a/b",
            "https://alice@example.com/x",
            "we use Bearer auth",
        ] {
            assert_eq!(r().text(text), None, "{text}");
        }
    }

    #[test]
    fn environment_names() {
        for n in [
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "DB_PASSWORD",
            "api_key",
            "MY_AUTH",
            "KAGGLE_KEY",
            "AZURE_STORAGE_KEY",
            "OMP_PASSPHRASE",
            "CUDA_API_TOK",
            "HF_TOKEN",
        ] {
            assert!(is_secret_env_name(n), "{n}");
        }
        for n in [
            "CUDA_VISIBLE_DEVICES",
            "OMP_NUM_THREADS",
            "HOME",
            "KEY_DIR",
            "TOKENIZERS_PARALLELISM",
            "GITHUB_TOKEN_FILE",
        ] {
            assert!(!is_secret_env_name(n), "{n}");
        }
    }

    #[test]
    fn known_values_from_secret_named_variables() {
        let vars = vec![
            (
                "WANDB_API_KEY".to_string(),
                "0123456789abcdef0123".to_string(),
            ),
            ("DB_PASSWORD".to_string(), "short".to_string()),
            ("HOME".to_string(), "/home/someone".to_string()),
        ];
        let r = Redactor::new(&vars);
        assert_eq!(
            r.text("train 0123456789abcdef0123").as_deref(),
            Some("train <redacted>")
        );
        assert_eq!(r.text("short /home/someone"), None);
    }

    #[test]
    fn params_by_name_and_by_value() {
        let mut p: BTreeMap<String, Value> = BTreeMap::new();
        p.insert("db.password".into(), Value::from("x"));
        p.insert("pin_token".into(), Value::from(1234));
        p.insert("use_auth_token".into(), Value::Bool(true));
        p.insert("source".into(), Value::from("https://u:p@h/x"));
        p.insert("lr".into(), Value::from(0.1));
        p.insert("tokenizer".into(), Value::from("bert"));
        let mut fields = Vec::new();
        r().params("params", &mut p, &mut fields);
        assert_eq!(p["db.password"], REDACTED);
        assert_eq!(p["pin_token"], REDACTED);
        assert_eq!(p["use_auth_token"], true);
        assert_eq!(p["source"], "https://<redacted>@h/x");
        assert_eq!(p["lr"], 0.1);
        assert_eq!(p["tokenizer"], "bert");
        assert_eq!(
            fields,
            ["params.db.password", "params.pin_token", "params.source"]
        );
    }
}
