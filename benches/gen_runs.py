#!/usr/bin/env python3
"""N benchmark runs for benches/tracking.sh, one per line: lr batch acc loss (seeded).

About 4% of the runs match `metrics.acc > 0.9 and params.lr = 0.01`."""
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
rng = random.Random(4)
for _ in range(n):
    lr = rng.choice(["0.1", "0.03", "0.01", "0.003", "0.001"])
    batch = rng.choice([32, 64, 128, 256])
    acc = round(rng.uniform(0.5, 1.0), 6)
    loss = round(rng.uniform(0.01, 2.0), 6)
    print(lr, batch, acc, loss)
