"""A tiny training script that reports to mlops through mlops_log.py.

    mlops track --name example --param epochs=20 -- python examples/python/train.py --epochs 20
"""
import argparse
import json
import math
import os
import random
import sys

sys.path.insert(0, os.path.dirname(__file__))
from mlops_log import log_metrics, log_params, set_tags  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--out", default="model.json")
    a = p.parse_args()
    log_params(lr=a.lr, epochs=a.epochs, model={"kind": "linear", "features": 1})
    set_tags(framework="pure-python")
    random.seed(0)
    xs = [random.uniform(-1, 1) for _ in range(200)]
    ys = [3.0 * x + 0.5 + random.gauss(0, 0.1) for x in xs]
    w, b = 0.0, 0.0
    for epoch in range(a.epochs):
        gw = sum((w * x + b - y) * x for x, y in zip(xs, ys)) / len(xs)
        gb = sum((w * x + b - y) for x, y in zip(xs, ys)) / len(xs)
        w, b = w - a.lr * 2 * gw, b - a.lr * 2 * gb
        mse = sum((w * x + b - y) ** 2 for x, y in zip(xs, ys)) / len(xs)
        log_metrics(step=epoch, mse=mse, rmse=math.sqrt(mse))
    with open(a.out, "w") as f:
        json.dump({"w": w, "b": b}, f)
    print(f"trained: w={w:.3f} b={b:.3f}")


if __name__ == "__main__":
    main()
