//! The record store at 1,000 / 10,000 / 100,000 events on one entity
//! (issue 9): the store's own append time in process, the new object bytes
//! an append writes (zlib bytes of the loose objects it adds, as git stores
//! them), a whole `mlops note` process and `mlops verify` (time and peak
//! memory) at each size. Run with `bash benches/history.sh`, which builds
//! the binary and prints the table; CI does not run it.
//!
//! The histories are written in process through the library (`Store::
//! append_draft`, the call `mlops note` makes) so 100,000 events take
//! minutes, not an hour of process start-ups; the records are the same.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mlops::record::Draft;
use mlops::store::{Entity, EntityKind, Store};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Every loose object file with its size.
fn loose(dir: &Path) -> std::collections::HashMap<PathBuf, u64> {
    let mut out = std::collections::HashMap::new();
    for entry in walkdir::WalkDir::new(dir.join(".git/objects")) {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().to_string();
        if entry.file_type().is_file() && name.len() == 38 {
            out.insert(entry.path().to_path_buf(), entry.metadata().unwrap().len());
        }
    }
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median wall time of a whole mlops process, and its peak RSS in KiB
/// (through `/usr/bin/time`, Debian's `time`, only when asked).
fn time_process(
    mlops: &Path,
    dir: &Path,
    args: &[&str],
    runs: usize,
    peak: bool,
) -> (Duration, u64) {
    let mut times = Vec::new();
    let mut max_kb = 0;
    for _ in 0..runs {
        let mut cmd = if peak {
            let mut c = Command::new("/usr/bin/time");
            c.args(["-f", "%M"]).arg(mlops);
            c
        } else {
            Command::new(mlops)
        };
        cmd.arg("-C")
            .arg(dir)
            .args(args)
            .stdout(std::process::Stdio::null());
        let t = Instant::now();
        let out = cmd
            .output()
            .expect("the command runs (`/usr/bin/time` is Debian's `time`)");
        times.push(t.elapsed());
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if peak {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let kb: u64 = stderr
                .lines()
                .last()
                .unwrap_or("0")
                .trim()
                .parse()
                .unwrap_or(0);
            max_kb = max_kb.max(kb);
        }
    }
    (median(times), max_kb)
}

fn main() {
    let sizes: Vec<usize> = std::env::var("SIZES")
        .unwrap_or_else(|_| "1000,10000,100000".into())
        .split(',')
        .map(|s| s.parse().unwrap())
        .collect();
    let mlops = PathBuf::from(std::env::var("MLOPS").expect("MLOPS names the binary"));
    let work =
        PathBuf::from(std::env::var("BENCH_WORK").unwrap_or_else(|_| "/tmp/mlops-bench".into()));
    let dir = work.join("history");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["config", "user.name", "bench"]);
    git(&dir, &["config", "user.email", "bench@example.com"]);
    git(&dir, &["config", "gc.auto", "0"]);
    let store = Store::open(&dir).unwrap();
    let entity = Entity::new(EntityKind::Monitor, "hourly").unwrap();
    println!("| events | store append, median of 200 | new object bytes per append (zlib), median of 50 | `mlops note`, median of 15 | `mlops verify`, loose objects | after `git gc` | peak RSS (loose / packed) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let mut written = 0usize;
    for &n in &sizes {
        let fill_start = Instant::now();
        while written + 200 < n {
            let d = Draft::new("note", 1, format!("event {written}"))
                .set("text", format!("hourly check {written}: all good"));
            store.append_draft(&entity, &d).unwrap();
            written += 1;
        }
        eprintln!("filled to {written} in {:?}", fill_start.elapsed());
        // The last 200 appends are timed in process; of those, 50 also
        // count the loose object bytes they add.
        let mut times = Vec::new();
        let mut bytes = Vec::new();
        while written < n {
            let d = Draft::new("note", 1, format!("event {written}"))
                .set("text", format!("hourly check {written}: all good"));
            let measure = n - written <= 50;
            let before = if measure { Some(loose(&dir)) } else { None };
            let t = Instant::now();
            store.append_draft(&entity, &d).unwrap();
            times.push(t.elapsed());
            if let Some(before) = before {
                let after = loose(&dir);
                let added: u64 = after
                    .iter()
                    .filter(|(p, _)| !before.contains_key(*p))
                    .map(|(_, s)| *s)
                    .sum();
                bytes.push(added);
            }
            written += 1;
        }
        bytes.sort();
        let (note, _) = time_process(
            &mlops,
            &dir,
            &["note", "monitor/probe", "-m", "x"],
            15,
            false,
        );
        // The probe entity is tiny: time the note on the big one too.
        let (note_big, _) = time_process(
            &mlops,
            &dir,
            &["note", "monitor/hourly", "-m", "x"],
            15,
            false,
        );
        written += 15;
        let (verify, peak) = time_process(&mlops, &dir, &["verify", "monitor/hourly"], 3, true);
        git(&dir, &["gc", "-q"]);
        let (packed, packed_peak) =
            time_process(&mlops, &dir, &["verify", "monitor/hourly"], 3, true);
        println!(
            "| {n} | {:.2} ms | {:.1} KiB | {:.2} ms (1-event entity {:.2} ms) | {:.2} s | {:.2} s | {} / {} MB |",
            median(times).as_secs_f64() * 1000.0,
            bytes[bytes.len() / 2] as f64 / 1024.0,
            note_big.as_secs_f64() * 1000.0,
            note.as_secs_f64() * 1000.0,
            verify.as_secs_f64(),
            packed.as_secs_f64(),
            peak / 1024,
            packed_peak / 1024
        );
    }
}
