"""Accuracy of CDT-II trained the fast way (`cdt train`'s defaults) vs the authors' way, over seeds.

The authors' way turns every speed switch off: a plain shuffle instead of locus runs, PyTorch's dropout and
attention, the default AdamW, float32. Each (path, seed) is a full `cdt train` run of CDT-II on a simulated screen
(mini by default) in a fresh runs directory; the table gives the held-out genes' per-cell r and pseudo-bulk r of
the best checkpoint, and the training time. The fast path costs no accuracy when the difference between the paths'
means is within the seed-to-seed spread of the authors' path.

    python bench/accuracy_parity.py                      # mini, seeds 0 and 1 (about 4 runs x 2-3 min on 2 cores)
    python bench/accuracy_parity.py --seeds 0 1 2 --workdir /tmp/parity
    python bench/accuracy_parity.py --quick              # tiny, one seed, one epoch: checks the script runs

The last line printed is the headline: the differences of the means beside the seed spread.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from cdt.reproduce import get_synthetic_data
from cdt.train import DataFiles, TrainConfig, train
from cdt.train.config import PLAIN_TRAINING
from common import choose_threads, load_average

PATHS = {"fast (cdt train default)": {}, "authors' path": PLAIN_TRAINING}  # name -> TrainConfig changes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="mini")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--epochs", type=int, help="override the preset's epoch limit")
    p.add_argument("--workdir", type=Path, help="where data and runs go (default: a temporary directory)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: 1 if the machine is busy)")
    p.add_argument("--quick", action="store_true", help="tiny preset, one seed, one epoch")
    args = p.parse_args()
    if args.quick:
        args.preset, args.seeds, args.epochs = "tiny", [0], 1
    torch.set_num_threads(choose_threads(args.threads))
    with tempfile.TemporaryDirectory(prefix="cdt-parity-") as tmp:
        work = args.workdir or Path(tmp)
        paths = get_synthetic_data(args.preset, 0, work / "data")
        files = DataFiles(dna=paths.dna, screen=paths.screen)
        rows = []
        for seed in args.seeds:
            for name, change in PATHS.items():
                changes = {"seed": seed, **change, **({"epochs": args.epochs} if args.epochs else {})}
                cfg = TrainConfig.for_model("cdt2", args.preset, **changes)
                started = time.perf_counter()
                result = train(cfg, files, work / "runs", progress=False)
                m = result.metrics
                rows.append((name, seed, m["test_r"], m["test_pb_r"], time.perf_counter() - started))
                print(f"{name:26} seed {seed}: r {m['test_r']:.3f}, pseudo-bulk r {m['test_pb_r']:.3f}", flush=True)

    print(f"\nCDT-II {args.preset}, held-out genes, best checkpoint; {len(args.seeds)} seeds; load {load_average()}")
    print(f"{'path':26} {'seed':>4} {'per-cell r':>10} {'pseudo-bulk r':>13} {'train s':>8}")
    for name, seed, r, pb, s in rows:
        print(f"{name:26} {seed:4d} {r:10.3f} {pb:13.3f} {s:8.1f}")
    summary = {}
    for name in PATHS:
        mine = np.array([(r, pb, s) for n, _, r, pb, s in rows if n == name])
        summary[name] = (mine.mean(0), mine.max(0) - mine.min(0))
        mean, spread = summary[name]
        print(
            f"{name:26} mean {mean[0]:.3f} (seed spread {spread[0]:.3f}), pseudo-bulk {mean[1]:.3f} (spread "
            f"{spread[1]:.3f}), {mean[2]:.0f} s per run"
        )
    (fast_mean, _), (ref_mean, ref_spread) = summary[list(PATHS)[0]], summary[list(PATHS)[1]]
    print(
        f"fast - authors' path: per-cell r {fast_mean[0] - ref_mean[0]:+.3f} (authors' seed spread {ref_spread[0]:.3f}), "
        f"pseudo-bulk r {fast_mean[1] - ref_mean[1]:+.3f} (spread {ref_spread[1]:.3f}); training time "
        f"{ref_mean[2] / fast_mean[2]:.2f}x shorter"
    )


if __name__ == "__main__":
    main()
