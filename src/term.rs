//! The terminal: tables, progress bars and the rule that machine-readable output
//! goes to stdout while progress and diagnostics go to stderr, hidden when
//! stderr is not a terminal so pipes and CI logs stay clean.

use std::io::IsTerminal;

use comfy_table::{presets, ContentArrangement, Table};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A table with a header row, sized to the terminal when there is one.
pub fn table<H: AsRef<str>>(headers: &[H], rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED);
    if std::io::stdout().is_terminal() {
        t.set_content_arrangement(ContentArrangement::Dynamic);
    }
    t.set_header(headers.iter().map(|h| h.as_ref().to_string()));
    for row in rows {
        t.add_row(row);
    }
    t.to_string()
}

pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A byte-counting progress bar on stderr, or a hidden one when stderr is not a
/// terminal or the user asked for quiet.
pub fn bytes_bar(total: u64, message: &str, quiet: bool) -> ProgressBar {
    if quiet || !stderr_is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar
}

/// A spinner-free counter for work measured in items.
pub fn items_bar(total: u64, message: &str, quiet: bool) -> ProgressBar {
    if quiet || !stderr_is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar
}

/// Trims a string to `width` characters for a table cell.
pub fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Writes to stdout. SIGPIPE stays ignored in mlops (Rust's default): restoring
/// its default disposition made a finished `mlops track` die with 141 when a
/// helper thread wrote to a pipe whose reader had gone, before the run was
/// recorded. A closed stdout (`mlops log | head`) therefore surfaces here as
/// `EPIPE`, and ends the process quietly with 0, as ripgrep does.
pub fn write_stdout(args: std::fmt::Arguments, newline: bool) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let result = out.write_fmt(args).and_then(|()| {
        if newline {
            out.write_all(b"\n")
        } else {
            Ok(())
        }
    });
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            std::process::exit(2);
        }
    }
}

/// `println!` for command output: see [`write_stdout`].
#[macro_export]
macro_rules! outln {
    () => { $crate::term::write_stdout(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::term::write_stdout(format_args!($($arg)*), true) };
}

/// `print!` for command output: see [`write_stdout`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::term::write_stdout(format_args!($($arg)*), false) };
}

/// A diagnostic the user should see but that does not stop the command.
pub fn warn(message: &str) {
    eprintln!("warning: {message}");
}
