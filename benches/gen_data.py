#!/usr/bin/env python3
"""Benchmark data for benches/data.sh (deterministic, seeded).

  gen_data.py tree DIR [N1 N2 N3 SIZE]   N1 x N2 folders of N3 files of SIZE bytes
                                         (default 20 x 20 x 50 files of 4 KiB = 20,000 files)
  gen_data.py big DIR [COUNT SIZE_MIB]   COUNT files of SIZE_MIB MiB of random bytes
                                         (default 4 x 256 MiB)
"""
import os
import random
import sys


def tree(root, n1=20, n2=20, n3=50, size=4096):
    rng = random.Random(3)
    for i in range(n1):
        for j in range(n2):
            d = os.path.join(root, f"d{i:02}", f"e{j:02}")
            os.makedirs(d, exist_ok=True)
            for k in range(n3):
                with open(os.path.join(d, f"f{k:03}.bin"), "wb") as f:
                    f.write(rng.randbytes(size))


def big(root, count=4, mib=256):
    rng = random.Random(4)
    os.makedirs(root, exist_ok=True)
    for i in range(count):
        with open(os.path.join(root, f"part{i}.bin"), "wb") as f:
            for _ in range(mib):
                f.write(rng.randbytes(1 << 20))


if __name__ == "__main__":
    mode, root, *rest = sys.argv[1:]
    {"tree": tree, "big": big}[mode](root, *map(int, rest))
