"""Data for benches/drift.sh: reference and current tables as CSV and Parquet.

    python drift_gen.py numeric OUTDIR ROWS     # ROWS x 20 float columns (cases a and c)
    python drift_gen.py mixed OUTDIR ROWS       # ROWS x 20 mixed columns (case b)

Writes OUTDIR/ref.csv, cur.csv, ref.parquet, cur.parquet. Fixed seeds; written in chunks of
1,000,000 rows with pyarrow, so 1e7 rows need little memory. Floats are rounded to 6 decimals
so that every CSV reader parses the same doubles.

numeric: columns f00..f19 from normal, log-normal, uniform, exponential and a two-peak mixture;
the current data is shifted on f00-f04 (+0.15 sd), scaled on f05-f06 (x1.2) and drawn from the
reference's distribution elsewhere, so 7 of 20 columns drift (no dataset drift at share 0.5).

mixed: n00..n07 floats (n00-n02 shifted), i00..i05 integers with 3-10 distinct values
(i00-i01 re-weighted), s00..s05 string categories with 3-40 values (s00-s01 re-weighted,
s02 has 2 categories in the current data that the reference never saw), plus 2% nulls in
n07 and s05.
"""
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

CHUNK = 1_000_000


def numeric_chunk(rng, n, current):
    cols = {}
    for j in range(20):
        kind = j % 5
        if kind == 0:
            x = rng.normal(10.0, 2.0, n)
            sd = 2.0
        elif kind == 1:
            x = rng.lognormal(0.0, 0.5, n)
            sd = 0.6
        elif kind == 2:
            x = rng.uniform(-5.0, 5.0, n)
            sd = 2.9
        elif kind == 3:
            x = rng.exponential(3.0, n)
            sd = 3.0
        else:
            x = np.where(rng.random(n) < 0.4, rng.normal(-2, 1, n), rng.normal(3, 1.5, n))
            sd = 2.7
        if current and j < 5:
            x = x + 0.15 * sd
        elif current and j < 7:
            x = x * 1.2
        cols[f"f{j:02d}"] = np.round(x, 6)
    return pa.table(cols)


def mixed_chunk(rng, n, current):
    cols = {}
    for j in range(8):
        x = rng.normal(j, 1.0 + j / 4, n)
        if current and j < 3:
            x = x + 0.3 * (1.0 + j / 4)
        x = np.round(x, 6)
        if j == 7:
            cols[f"n{j:02d}"] = pa.array(x, mask=rng.random(n) < 0.02)
        else:
            cols[f"n{j:02d}"] = pa.array(x)
    for j in range(6):
        k = 3 + j + (1 if j >= 4 else 0)  # 3..10 distinct values
        p = np.linspace(1.0, 2.0, k)
        if current and j < 2:
            p = p[::-1] ** 2
        cols[f"i{j:02d}"] = pa.array(rng.choice(k, n, p=p / p.sum()).astype(np.int64))
    for j in range(6):
        k = [3, 5, 8, 12, 20, 40][j]
        names = np.array([f"cat_{j}_{c:02d}" for c in range(k + 2)])
        p = np.concatenate([np.linspace(1.0, 3.0, k), [0.0, 0.0]])
        if current and j < 2:
            p[:k] = p[:k][::-1]
        if current and j == 2:
            p[k:] = [0.05, 0.02]  # unseen in the reference
        idx = rng.choice(k + 2, n, p=p / p.sum())
        vals = names[idx]
        if j == 5:
            cols[f"s{j:02d}"] = pa.array(vals, mask=rng.random(n) < 0.02)
        else:
            cols[f"s{j:02d}"] = pa.array(vals)
    return pa.table(cols)


def write(outdir, name, rows, make, seed):
    rng = np.random.default_rng(seed)
    csv_path = os.path.join(outdir, f"{name}.csv")
    pq_path = os.path.join(outdir, f"{name}.parquet")
    csv_w = pq_w = None
    done = 0
    while done < rows:
        n = min(CHUNK, rows - done)
        t = make(rng, n, name == "cur")
        if csv_w is None:
            csv_w = pacsv.CSVWriter(csv_path, t.schema)
            pq_w = pq.ParquetWriter(pq_path, t.schema)
        csv_w.write_table(t)
        pq_w.write_table(t, row_group_size=CHUNK)
        done += n
    csv_w.close()
    pq_w.close()


def main():
    kind, outdir, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(outdir, exist_ok=True)
    make = numeric_chunk if kind == "numeric" else mixed_chunk
    write(outdir, "ref", rows, make, 1)
    write(outdir, "cur", rows, make, 2)


if __name__ == "__main__":
    main()
