//! Signatures made with the signer's own key, through git's own signing
//! configuration (docs/governance.md).
//!
//! An approval must be made *by* the approver: mlops signs the approval's
//! statement with the program and key git is configured to sign commits with
//! (`gpg.format` = `ssh` or `openpgp`, `user.signingkey`, `gpg.ssh.program`,
//! `gpg.program`), so a team that signs commits signs approvals with nothing
//! new to set up, and anyone can check a signature with the standard tools
//! (`ssh-keygen -Y verify`, `gpg --verify`). Signing never prompts: the
//! signing program runs without a terminal, so a key that needs a passphrase
//! and is not in an agent fails with a hint instead of waiting for input.
//!
//! SSH signatures are verified in process (the `ssh-key` crate) against the
//! `allowed_signers` file committed in the repository, which binds people's
//! e-mail addresses to their public keys; spawning `ssh-keygen` per record
//! would take minutes over a large history.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The namespace approvals are signed under (`ssh-keygen -Y sign -n`), so an
/// approval signature can never be replayed as a commit's or a file's.
pub const APPROVAL_NAMESPACE: &str = "mlops-approval";

/// How git is configured to sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    Ssh,
    OpenPgp,
}

/// The signing set-up read from git's configuration.
#[derive(Clone, Debug)]
pub struct Signer {
    pub format: Format,
    /// `user.signingkey`: a key file (or `key::<public key>`) for SSH, a key
    /// id for OpenPGP.
    pub key: String,
    /// The program git would run.
    pub program: String,
    /// `commit.gpgsign`: whether record commits are signed too.
    pub sign_commits: bool,
}

/// A signature as a record keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    /// `ssh` or `openpgp`.
    pub format: String,
    pub namespace: String,
    /// The signing key: `SHA256:…` for SSH, the fingerprint for OpenPGP.
    pub key: String,
    /// The armored signature, as `ssh-keygen -Y sign` or `gpg --armor
    /// --detach-sign` prints it.
    pub armored: String,
}

impl Signer {
    /// Reads git's signing configuration (`None` when no key is configured).
    pub fn from_git(get: impl Fn(&str) -> Option<String>) -> Option<Signer> {
        let key = get("user.signingkey")?;
        let format = match get("gpg.format").as_deref() {
            Some("ssh") => Format::Ssh,
            Some("openpgp") | None => Format::OpenPgp,
            Some(_) => return None,
        };
        let program = match format {
            Format::Ssh => get("gpg.ssh.program").unwrap_or_else(|| "ssh-keygen".into()),
            Format::OpenPgp => get("gpg.openpgp.program")
                .or_else(|| get("gpg.program"))
                .unwrap_or_else(|| "gpg".into()),
        };
        let sign_commits = matches!(
            get("commit.gpgsign").as_deref(),
            Some("true") | Some("yes") | Some("on") | Some("1")
        );
        Some(Signer {
            format,
            key: expand_home(&key),
            program,
            sign_commits,
        })
    }

    /// Signs `payload` under `namespace` and returns the armored signature.
    pub fn sign(&self, payload: &[u8], namespace: &str) -> Result<Signature> {
        let mut cmd = Command::new(&self.program);
        match self.format {
            Format::Ssh => {
                cmd.args(["-Y", "sign", "-n", namespace, "-f", &self.key, "-q"]);
            }
            Format::OpenPgp => {
                cmd.args([
                    "--batch",
                    "--no-tty",
                    "--armor",
                    "--detach-sign",
                    "--local-user",
                    &self.key,
                ]);
            }
        }
        cmd.env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // No controlling terminal: a passphrase prompt fails at once instead
        // of waiting (the hint says how to load the key into an agent).
        // SAFETY: setsid(2) in the child between fork and exec only.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| {
            Error::invalid_with_hint(
                format!("cannot run the signing program `{}`: {e}", self.program),
                "install it, or set `gpg.ssh.program` / `gpg.program` in git's configuration",
            )
        })?;
        child
            .stdin
            .take()
            .expect("a stdin pipe")
            .write_all(payload)
            .map_err(|e| Error::io("cannot send the statement to the signing program", e))?;
        let out = child
            .wait_with_output()
            .map_err(|e| Error::io("cannot wait for the signing program", e))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(Error::invalid_with_hint(
                format!(
                    "signing with `{}` failed: {}",
                    self.key,
                    stderr.lines().next().unwrap_or("").trim()
                ),
                match self.format {
                    Format::Ssh => "load the key into ssh-agent (`ssh-add <key>`), or check `user.signingkey`; mlops never asks for a passphrase",
                    Format::OpenPgp => "unlock the key in gpg-agent first, or check `user.signingkey`; mlops never asks for a passphrase",
                },
            ));
        }
        let armored = String::from_utf8_lossy(&out.stdout).to_string();
        let key = match self.format {
            Format::Ssh => ssh_fingerprint_of_signature(&armored)?,
            Format::OpenPgp => self.key.clone(),
        };
        Ok(Signature {
            format: match self.format {
                Format::Ssh => "ssh".into(),
                Format::OpenPgp => "openpgp".into(),
            },
            namespace: namespace.to_string(),
            key,
            armored,
        })
    }
}

fn expand_home(path: &str) -> String {
    match path.strip_prefix("~/") {
        Some(rest) => match crate::context::var("HOME") {
            Some(home) => format!("{home}/{rest}"),
            None => path.to_string(),
        },
        None => path.to_string(),
    }
}

fn ssh_fingerprint_of_signature(armored: &str) -> Result<String> {
    let sig = ssh_key::SshSig::from_pem(armored.as_bytes())
        .map_err(|e| Error::invalid(format!("the SSH signature cannot be read: {e}")))?;
    Ok(ssh_key::PublicKey::from(sig.public_key().clone())
        .fingerprint(ssh_key::HashAlg::Sha256)
        .to_string())
}

/// One line of an `allowed_signers` file: the principals (e-mail
/// addresses) a public key may sign as.
#[derive(Clone, Debug)]
pub struct AllowedSigner {
    pub principals: Vec<String>,
    pub namespaces: Option<Vec<String>>,
    pub key: ssh_key::PublicKey,
}

/// Parses an `allowed_signers` file (ssh-keygen(1), "ALLOWED SIGNERS").
pub fn parse_allowed_signers(text: &str, file: &Path) -> Result<Vec<AllowedSigner>> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: &str| Error::Config {
            path: file.display().to_string(),
            message: format!("line {}: {why}", n + 1),
        };
        let mut parts = line.split_whitespace();
        let principals: Vec<String> = parts
            .next()
            .ok_or_else(|| bad("no principals"))?
            .split(',')
            .map(normalise_email)
            .collect();
        let mut namespaces = None;
        let mut rest: Vec<&str> = parts.collect();
        // Options come before the key type.
        while let Some(first) = rest.first() {
            if first.starts_with("ssh-") || first.starts_with("ecdsa-") || first.starts_with("sk-")
            {
                break;
            }
            if let Some(ns) = first.strip_prefix("namespaces=") {
                namespaces = Some(
                    ns.trim_matches('"')
                        .split(',')
                        .map(str::to_string)
                        .collect(),
                );
            }
            rest.remove(0);
        }
        let key_text = rest.join(" ");
        let key = ssh_key::PublicKey::from_openssh(&key_text)
            .map_err(|e| bad(&format!("not a public key: {e}")))?;
        out.push(AllowedSigner {
            principals,
            namespaces,
            key,
        });
    }
    Ok(out)
}

/// An e-mail address as identities are compared: trimmed, lowercased, the
/// part inside `<…>` of a `Name <email>` identity.
pub fn normalise_email(s: &str) -> String {
    let s = s.trim();
    let inner = match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => &s[a + 1..b],
        _ => s,
    };
    inner.trim().to_ascii_lowercase()
}

/// Who signed, as far as the allowed signers say.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// The principals of the allowed key that made the signature.
    pub principals: Vec<String>,
    pub key: String,
}

/// Checks an SSH signature of `payload` under `namespace` against the
/// allowed signers; `Err` says why it does not verify.
pub fn verify_ssh(
    payload: &[u8],
    armored: &str,
    namespace: &str,
    allowed: &[AllowedSigner],
) -> std::result::Result<Verified, String> {
    let (sig, key) = parse_ssh(armored, namespace)?;
    let fingerprint = key.fingerprint(ssh_key::HashAlg::Sha256).to_string();
    let entry = allowed
        .iter()
        .find(|a| a.key.key_data() == key.key_data())
        .ok_or_else(|| format!("key {fingerprint} is not in allowed_signers"))?;
    if let Some(ns) = &entry.namespaces {
        if !ns.iter().any(|n| n == namespace) {
            return Err(format!(
                "key {fingerprint} is not allowed to sign `{namespace}`"
            ));
        }
    }
    key.verify(namespace, payload, &sig)
        .map_err(|_| "the signature does not match the statement".to_string())?;
    Ok(Verified {
        principals: entry.principals.clone(),
        key: fingerprint,
    })
}

/// Checks that an SSH signature is intact: made over `payload` under
/// `namespace` by the key it carries, whose fingerprint it returns. Whether
/// that key may sign for someone is the policy's question (the allowed
/// signers of the day), asked when the signature is used; this one is the
/// record's integrity, which holds forever.
pub fn verify_ssh_intact(
    payload: &[u8],
    armored: &str,
    namespace: &str,
) -> std::result::Result<String, String> {
    let (sig, key) = parse_ssh(armored, namespace)?;
    key.verify(namespace, payload, &sig)
        .map_err(|_| "the signature does not match the statement".to_string())?;
    Ok(key.fingerprint(ssh_key::HashAlg::Sha256).to_string())
}

/// An armored SSH signature made under `namespace`, and the key it carries.
fn parse_ssh(
    armored: &str,
    namespace: &str,
) -> std::result::Result<(ssh_key::SshSig, ssh_key::PublicKey), String> {
    let sig = ssh_key::SshSig::from_pem(armored.as_bytes())
        .map_err(|e| format!("not an SSH signature: {e}"))?;
    if sig.namespace() != namespace {
        return Err(format!(
            "signed for `{}`, not `{namespace}`",
            sig.namespace()
        ));
    }
    let key = ssh_key::PublicKey::from(sig.public_key().clone());
    Ok((sig, key))
}
