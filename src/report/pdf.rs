//! `mlops report --pdf`: the HTML printed by a local headless Chromium, the
//! print engine whose `@page` rules the template is written for. No browser
//! is bundled: one is found on `PATH` or the command says how to get one.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

const BROWSERS: [&str; 4] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

/// The browser that will print, found before anything is written.
pub fn browser() -> Result<PathBuf> {
    let path = crate::context::var("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in BROWSERS {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(Error::invalid_with_hint(
        "`--pdf`: no Chromium or Chrome on PATH to print with",
        "install one (Debian/Ubuntu: `apt-get install chromium`; macOS: Google Chrome), or print report.html from a browser",
    ))
}

/// Prints `html` to `pdf` (A4, the template's running header and page numbers).
pub fn print(browser: &Path, html: &Path, pdf: &Path) -> Result<()> {
    let url = format!("file://{}", html.display());
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("cannot run `{}`", browser.display()), e))?;
    let ok = std::fs::read(pdf)
        .map(|b| b.starts_with(b"%PDF"))
        .unwrap_or(false);
    if !out.status.success() || !ok {
        return Err(Error::invalid(format!(
            "`{}` did not print `{}`: {}",
            browser.display(),
            html.display(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )));
    }
    Ok(())
}
