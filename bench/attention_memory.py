"""Peak memory of streaming the mean RNA self-attention over N vs 10 x N cells (mini preset, random weights).

Each measurement runs in a fresh subprocess (`bench/extraction.py`'s worker) that builds the same synthetic screen
(`--total` cells, mini sizes: 256 genes, 448 DNA bins x 64) and a random-weight CDT-II, records its peak RSS after
setup, extracts `cdt.attention.mean_attention_maps(..., ["rna_self_0"])` over the first n cells, and records the
peak RSS again (resource.getrusage ru_maxrss; torch allocations are invisible to tracemalloc). For contrast,
`--naive` also measures keeping every batch's maps before averaging, which grows with n. `bench/extraction.py`
adds timing and the dense per-cell reference.

    python bench/attention_memory.py [--cells 64] [--factor 10] [--batch-size 16] [--naive]

The last line printed is the headline figure: the growth of peak RSS from n to factor x n cells.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from extraction import run_worker, write_store

N_LOCI = 4


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=64, help="n: the smaller selection")
    p.add_argument("--factor", type=int, default=10, help="the larger selection is factor x n cells")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--total", type=int, default=None, help="cells in the screen (default factor x n)")
    p.add_argument("--naive", action="store_true", help="also measure stacking per-cell maps (grows with n)")
    args = p.parse_args()
    args.total = args.total or args.cells * args.factor
    sizes = [args.cells, args.cells * args.factor]
    with tempfile.TemporaryDirectory() as tmp:
        dna_path = Path(tmp) / "dna.h5"
        write_store(dna_path, "mini", N_LOCI)
        results = [
            run_worker(mode, n, args.total, dna_path, loci=N_LOCI, batch_size=args.batch_size)
            for mode in (["streamed", "naive"] if args.naive else ["streamed"])
            for n in sizes
        ]
    print(f"{'mode':9} {'cells':>6} {'setup peak MB':>14} {'peak MB':>9} {'extraction MB':>14} {'seconds':>8}")
    for r in results:
        print(
            f"{r['mode']:9} {r['n_cells']:6d} {r['setup_peak_mb']:14.1f} {r['peak_mb']:9.1f} "
            f"{r['peak_mb'] - r['setup_peak_mb']:14.1f} {r['seconds']:8.2f}"
        )
    small, large = results[0], results[1]
    growth = 100 * (large["peak_mb"] - small["peak_mb"]) / small["peak_mb"]
    print(
        f"streamed mean rna_self_0, mini preset: peak RSS {small['peak_mb']:.1f} MB at {sizes[0]} cells -> "
        f"{large['peak_mb']:.1f} MB at {sizes[1]} cells: growth {growth:+.1f}%"
    )


if __name__ == "__main__":
    main()
