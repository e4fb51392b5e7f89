"""Data for benches/monitoring.sh: shadow comparisons and a late-label monitor.

    python monitoring_gen.py shadow OUTDIR ROWS         # champ/chall/labels, CSV and Parquet
    python monitoring_gen.py monitor OUTDIR BATCHES ROWS  # served/*.csv and labels/*.csv

shadow: ROWS keys `id` (integers 0..ROWS-1) scored by both models. The label `y` is 1 for
30 % of rows; each model's score is sigmoid(-1 + d*y + noise), noise = 0.8 * a shared part +
0.6 * the model's own, so the two models agree on most rows; d = 1.19 for the champion
(AUC ~0.80) and 1.25 for the challenger (~0.81). Scores are rounded to 6 decimals (so there
are ties, as in real scores, and every reader parses the same doubles). Each of the three
files is in its own random row order, so the join is a real join. labels.csv also holds
`region` (4 values, 40/30/20/10 %). Writes champ, chall, labels as .csv and .parquet.

monitor: BATCHES monthly prediction files served/2026-01.csv... of ROWS rows each (`id`,
`score`; ids unique across months, champion-like scores, AUC ~0.80), and labels for 80 % of
all ids (`id`, `y`) in 3 files labels/part-1.csv..part-3.csv, in random order.

Fixed seeds; numpy + pyarrow.
"""
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# no quotes, as pandas and most exporters write numbers and plain words
CSV = pacsv.WriteOptions(quoting_style="none", quoting_header="none")


def write(table, path_stem, parquet=True):
    pacsv.write_csv(table, path_stem + ".csv", CSV)
    if parquet:
        pq.write_table(table, path_stem + ".parquet")


def shadow(outdir, n):
    rng = np.random.default_rng(14)
    ids = np.arange(n, dtype=np.int64)
    y = (rng.random(n) < 0.3).astype(np.int64)
    common = rng.normal(0, 1, n)
    champ = np.round(sigmoid(-1 + 1.19 * y + 0.8 * common + 0.6 * rng.normal(0, 1, n)), 6)
    chall = np.round(sigmoid(-1 + 1.25 * y + 0.8 * common + 0.6 * rng.normal(0, 1, n)), 6)
    region = np.array(["north", "south", "east", "west"])[
        rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1])
    ]
    for name, cols in (
        ("champ", {"id": ids, "score": champ}),
        ("chall", {"id": ids, "score": chall}),
        ("labels", {"id": ids, "y": y, "region": region}),
    ):
        perm = rng.permutation(n)
        t = pa.table({k: v[perm] for k, v in cols.items()})
        write(t, os.path.join(outdir, name))


def monitor(outdir, batches, rows):
    rng = np.random.default_rng(26)
    served = os.path.join(outdir, "served")
    labels = os.path.join(outdir, "labels")
    os.makedirs(served, exist_ok=True)
    os.makedirs(labels, exist_ok=True)
    all_ids, all_y = [], []
    for b in range(batches):
        ids = np.arange(rows, dtype=np.int64) + (b + 1) * 10_000_000
        y = (rng.random(rows) < 0.3).astype(np.int64)
        score = np.round(sigmoid(-1 + 1.19 * y + rng.normal(0, 1, rows)), 6)
        name = f"{2026 + b // 12}-{b % 12 + 1:02d}"
        pacsv.write_csv(pa.table({"id": ids, "score": score}), os.path.join(served, name + ".csv"), CSV)
        all_ids.append(ids)
        all_y.append(y)
    ids = np.concatenate(all_ids)
    y = np.concatenate(all_y)
    pick = rng.permutation(len(ids))[: int(len(ids) * 0.8)]
    for i, part in enumerate(np.array_split(pick, 3)):
        t = pa.table({"id": ids[part], "y": y[part]})
        pacsv.write_csv(t, os.path.join(labels, f"part-{i + 1}.csv"), CSV)


def main():
    kind, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    if kind == "shadow":
        shadow(outdir, int(sys.argv[3]))
    elif kind == "monitor":
        monitor(outdir, int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(f"unknown kind {kind}")


if __name__ == "__main__":
    main()
