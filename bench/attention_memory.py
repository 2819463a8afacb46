"""Peak memory of streaming the mean RNA self-attention over N vs 10 x N cells (mini preset, random weights).

Each measurement runs in a fresh subprocess that builds the same synthetic screen (`--total` cells, mini sizes:
256 genes, 448 DNA bins x 64) and a random-weight CDT-II, records its peak RSS after setup, extracts
`cdt.attention.mean_attention(..., "rna_self_0")` over the first n cells, and records the peak RSS again
(resource.getrusage ru_maxrss; torch allocations are invisible to tracemalloc). For contrast, `--naive` also
measures stacking every batch's maps before averaging, which grows with n.

    python bench/attention_memory.py [--cells 64] [--factor 10] [--batch-size 16] [--naive]

The last line printed is the headline figure: the growth of peak RSS from n to factor x n cells.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_LOCI = 4


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def build_inputs(total: int, dna_path: Path, seed: int = 0):
    """A screen of `total` cells over N_LOCI loci at mini sizes, its DNA store, and a random-weight CDT-II."""
    import numpy as np
    import pandas as pd
    import torch
    from cdt.config import get_preset
    from cdt.data.dnastore import write_dna_store
    from cdt.data.screen import make_screen
    from cdt.models import CDT2, CDT2Config

    preset = get_preset("mini")
    rng = np.random.default_rng(seed)
    loci = [f"LOCUS{k}" for k in range(N_LOCI)]
    if not dna_path.exists():
        table = pd.DataFrame({"locus_id": loci, "chrom": "chr1", "center": [10_000 * (k + 1) for k in range(N_LOCI)],
                              "strand": "+"})
        emb = {k: rng.normal(size=(preset.n_bins, preset.dna_dim)).astype(np.float32) for k in loci}
        write_dna_store(dna_path, emb, table, model="bench random")
    g = preset.n_genes
    expr = np.log1p(rng.gamma(0.5, 20.0, size=(total, g))).astype(np.float32)
    perts = [loci[i * N_LOCI // total] for i in range(total)]
    obs = pd.DataFrame({"perturbation": perts, "kind": "TSS", "locus": perts, "split": "test"},
                       index=[f"cell{i}" for i in range(total)])
    screen = make_screen(expr, expr - expr.mean(0), obs, [f"G{i}" for i in range(g)], np.ones(g), expr.mean(0),
                         source="bench", held_out=loci)
    torch.manual_seed(seed)
    return screen, CDT2(CDT2Config.from_preset(preset)).eval()


def worker(n_cells: int, total: int, batch_size: int, dna_path: Path, naive: bool) -> dict:
    import numpy as np
    import torch
    from cdt.attention import mean_attention
    from cdt.data.dnastore import DNAStore
    from cdt.evaluate import forward, screen_batches

    torch.set_num_threads(1)
    screen, model = build_inputs(total, dna_path)
    rows = np.arange(n_cells)
    with DNAStore(dna_path) as store:
        next(screen_batches(model, screen, store, rows[:1]))  # warm up the allocator and the HDF5 reader
        with torch.no_grad():
            forward(model, next(screen_batches(model, screen, store, rows[:batch_size], batch_size)),
                    return_attention=True)
        before = peak_rss_mb()
        started = time.perf_counter()
        if naive:  # keep every cell's map, then average
            with torch.no_grad():
                maps = [forward(model, b, return_attention=True).attention["rna_self_0"].clone()
                        for b in screen_batches(model, screen, store, rows, batch_size)]
                mean = torch.cat(maps).double().mean(0)
        else:
            mean = mean_attention(model, screen, store, rows, "rna_self_0", batch_size=batch_size).values
        seconds = time.perf_counter() - started
    return {"mode": "naive" if naive else "streamed", "n_cells": n_cells, "setup_peak_mb": before,
            "peak_mb": peak_rss_mb(), "seconds": seconds, "shape": list(mean.shape)}


def run_worker(args: argparse.Namespace, n: int, naive: bool, dna_path: Path) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--cells", str(n), "--total", str(args.total),
           "--batch-size", str(args.batch_size), "--dna", str(dna_path)] + (["--naive"] if naive else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=64, help="n: the smaller selection")
    p.add_argument("--factor", type=int, default=10, help="the larger selection is factor x n cells")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--total", type=int, default=None, help="cells in the screen (default factor x n)")
    p.add_argument("--naive", action="store_true", help="also measure stacking per-cell maps (grows with n)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--dna", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.total = args.total or args.cells * args.factor
    if args.worker:
        print(json.dumps(worker(args.cells, args.total, args.batch_size, args.dna, args.naive)))
        return
    sizes = [args.cells, args.cells * args.factor]
    with tempfile.TemporaryDirectory() as tmp:
        dna_path = Path(tmp) / "dna.h5"
        build_inputs(1, dna_path)  # writes the shared DNA store once
        results = {(naive, n): run_worker(args, n, naive, dna_path) for naive in ([False, True] if args.naive
                                                                               else [False]) for n in sizes}
    print(f"{'mode':9} {'cells':>6} {'setup peak MB':>14} {'peak MB':>9} {'extraction MB':>14} {'seconds':>8}")
    for r in results.values():
        print(f"{r['mode']:9} {r['n_cells']:6d} {r['setup_peak_mb']:14.1f} {r['peak_mb']:9.1f} "
              f"{r['peak_mb'] - r['setup_peak_mb']:14.1f} {r['seconds']:8.2f}")
    small, large = results[(False, sizes[0])], results[(False, sizes[1])]
    growth = 100 * (large["peak_mb"] - small["peak_mb"]) / small["peak_mb"]
    print(f"streamed mean rna_self_0, mini preset: peak RSS {small['peak_mb']:.1f} MB at {sizes[0]} cells -> "
          f"{large['peak_mb']:.1f} MB at {sizes[1]} cells: growth {growth:+.1f}%")


if __name__ == "__main__":
    main()
