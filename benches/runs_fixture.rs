//! Builds a repository of N tracked runs for `benches/scale.sh` (issue 15).
//!
//! One run is recorded by the real `mlops track` (a command that logs ten
//! steps of `loss` and `acc`); its record is the template. The other N - 1
//! runs are written in this process through the library — the same
//! `RunRecord` type, the same metrics collector and summaries, the same
//! `Store::append_draft` that `mlops track` calls, one ref per run — with
//! their own run id, times, params and metric values. So the records are
//! what `mlops track` writes, without 100,000 process start-ups.
//!
//! Usage (through scale.sh): `MLOPS=... REPO=... N=100000 runs_fixture`.

use std::path::PathBuf;
use std::process::Command;

use mlops::record::Draft;
use mlops::run::metrics::Collected;
use mlops::run::record::{RunRecord, KIND, SCHEMA};
use mlops::store::{Entity, EntityKind, Store};

fn main() {
    let n: usize = std::env::var("N")
        .map(|v| v.parse().unwrap())
        .unwrap_or(1000);
    let mlops = PathBuf::from(std::env::var("MLOPS").expect("MLOPS names the binary"));
    let repo = PathBuf::from(std::env::var("REPO").expect("REPO names the repository"));
    let out = Command::new(&mlops)
        .arg("-C")
        .arg(&repo)
        .args([
            "track",
            "--json",
            "--name",
            "template",
            "--param",
            "lr=0.01",
            "--param",
            "batch=64",
            "--",
            "sh",
            "-c",
            "for i in 0 1 2 3 4 5 6 7 8 9; do echo \"{\\\"step\\\": $i, \\\"loss\\\": 0.$((9 - i))5, \\\"acc\\\": 0.8$i}\" >> \"$MLOPS_METRICS\"; done",
        ])
        .output()
        .expect("mlops track runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tracked: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let template: RunRecord = serde_json::from_value(tracked["run"].clone()).unwrap();
    let store = Store::open(&repo).unwrap();
    let start = std::time::Instant::now();
    let mut rng: u64 = 0x9e3779b97f4a7c15;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let base = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap();
    for i in 1..n {
        let t = base + chrono::Duration::seconds(i as i64 * 60);
        let stamp = |s: i64| {
            (t + chrono::Duration::seconds(s))
                .with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        };
        let mut run = template.clone();
        run.run_id = format!("{}-{:06x}", t.format("%Y%m%d-%H%M%S"), next() % (1 << 24));
        run.name = Some(format!("sweep-{i}"));
        run.started_at = stamp(0);
        run.ended_at = stamp(42);
        run.duration_s = 42.0;
        let lr = ["0.1", "0.03", "0.01", "0.003", "0.001"][(next() % 5) as usize];
        let batch = [32, 64, 128, 256][(next() % 4) as usize];
        run.params
            .insert("lr".into(), serde_json::json!(lr.parse::<f64>().unwrap()));
        run.params.insert("batch".into(), serde_json::json!(batch));
        let mut collected = Collected::default();
        let final_acc = 0.5 + (next() % 500_000) as f64 / 1_000_000.0;
        for step in 0..10i64 {
            let f = (step + 1) as f64 / 10.0;
            collected.push(
                "acc",
                Some(step),
                (final_acc * f * 1e6).round() / 1e6,
                Some(stamp(step * 4)),
            );
            collected.push(
                "loss",
                Some(step),
                ((1.0 - final_acc * f) * 1e6).round() / 1e6,
                Some(stamp(step * 4)),
            );
        }
        run.metrics = collected.summaries(&Default::default());
        let mut draft = Draft::new(
            KIND,
            SCHEMA,
            format!("run {} finished (sweep-{i})", run.run_id),
        );
        run.metric_history = collected.history_blob().map(|b| draft.attach(b));
        let draft = draft.with_body(&run).unwrap();
        let entity = Entity::new(EntityKind::Run, &run.run_id).unwrap();
        store.append_draft(&entity, &draft).unwrap();
        if i % 10_000 == 0 {
            eprintln!("{i} runs in {:?}", start.elapsed());
        }
    }
    eprintln!("{n} runs in {:?}", start.elapsed());
}
