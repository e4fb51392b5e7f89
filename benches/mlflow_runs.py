#!/usr/bin/env python3
"""MLflow side of benches/tracking.sh (MLFLOW_TRACKING_URI=sqlite:///... in the environment).

  mlflow_runs.py load RUNS.TSV     log the runs (params lr, batch; metrics acc, loss) with the client
  mlflow_runs.py search all|filtered   one search_runs call (for hyperfine: includes import and start-up)
  mlflow_runs.py inproc N          import once, then N calls of each search; medians inside Python
"""
import statistics
import sys
import time

t0 = time.perf_counter()
import mlflow  # noqa: E402
from mlflow.entities import Metric, Param  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

IMPORT_S = time.perf_counter() - t0
EXPERIMENT = "bench"
FILTER = "metrics.acc > 0.9 and params.lr = '0.01'"
ORDER = ["metrics.acc DESC"]


def exp_id():
    return mlflow.get_experiment_by_name(EXPERIMENT).experiment_id


def search(kind, eid):
    if kind == "all":
        return mlflow.search_runs(experiment_ids=[eid])
    return mlflow.search_runs(experiment_ids=[eid], filter_string=FILTER, order_by=ORDER)


def main():
    mode = sys.argv[1]
    if mode == "load":
        client = MlflowClient()
        eid = client.create_experiment(EXPERIMENT)
        rows = [line.split() for line in open(sys.argv[2])]
        t = time.perf_counter()
        for lr, batch, acc, loss in rows:
            run = client.create_run(eid)
            ts = int(time.time() * 1000)
            client.log_batch(
                run.info.run_id,
                metrics=[Metric("acc", float(acc), ts, 0), Metric("loss", float(loss), ts, 0)],
                params=[Param("lr", lr), Param("batch", batch)],
            )
            client.set_terminated(run.info.run_id)
        dt = time.perf_counter() - t
        print(f"mlflow: logged {len(rows)} runs in {dt:.1f} s, {dt / len(rows) * 1000:.2f} ms per run")
    elif mode == "search":
        df = search(sys.argv[2], exp_id())
        assert len(df) > 0
    elif mode == "inproc":
        n = int(sys.argv[2])
        eid = exp_id()
        for kind in ("all", "filtered"):
            times, rows = [], 0
            for _ in range(n):
                t = time.perf_counter()
                rows = len(search(kind, eid))
                times.append(time.perf_counter() - t)
            print(f"inproc {kind} {statistics.median(times):.4f} {min(times):.4f} {max(times):.4f} {rows}")
        print(f"import {IMPORT_S:.4f}")


if __name__ == "__main__":
    main()
