"""Attention extraction over held-out cells: time and peak memory vs the number of cells, ours vs dense per-cell.

Ours ("streamed") is `cdt.attention.mean_attention_maps`: cells grouped by locus, each locus's DNA read once per
batch and run through the DNA branch once, only the requested maps materialised (the fused kernel elsewhere), each
batch's maps added into float64 sums and freed. The reference ("dense") is the straightforward per-cell script:
every cell's DNA window read from the store, the per-cell explicit maps of `bench/reference.py`,
every cell's maps kept and averaged at the end, one cell per forward pass as the authors' attention notebook does
(the authors' notebook, batch 1; `--dense-batch-size` batches it too). A third mode ("naive", `--naive`) runs our model
but keeps the maps, separating the two effects.

Every measurement runs in a fresh subprocess that builds the same synthetic held-out screen (`--total` cells over
`--loci` loci, preset sizes) and random-weight CDT-II, warms up on one batch, records its peak RSS, extracts the
maps of the first n cells and records the peak RSS and the time again (ru_maxrss; torch allocations are invisible to
tracemalloc). Runs of the two modes alternate, repeated `--repeats` times, so machine load hits both alike; the
speed-up is the median of the per-repeat ratios. The cell means of both modes are compared.

    python bench/extraction.py [--cells 64] [--factor 10] [--maps rna_self_0[,dna_to_rna,...]] [--batch-size 16]
                               [--dense-batch-size 1]

The last line printed is the headline: speed-up at the larger size and peak-memory growth for factor x the cells.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from cdt.config import get_preset
from common import build_screen_inputs, choose_threads, load_average, median, peak_device_mb, peak_rss_mb, pick_device
from reference import reference_maps

MODES = ("streamed", "naive", "dense")


def extract(
    mode: str, model, screen, store, rows: np.ndarray, maps: list[str], batch_size: int
) -> dict[str, torch.Tensor]:
    """Cell-mean maps {name: [H, Q, K]} of the cells `rows`, the way `mode` computes them."""
    from cdt.attention import mean_attention_maps
    from cdt.evaluate import forward, screen_batches

    if mode == "streamed":
        out = mean_attention_maps(model, screen, store, rows, maps, batch_size=batch_size)
        return {m: torch.from_numpy(a.values) for m, a in out.items()}  # on the CPU already
    kept: dict[str, list[torch.Tensor]] = {m: [] for m in maps}
    device = next(model.parameters()).device
    with torch.no_grad():
        if mode == "naive":  # our model and batches, every cell's maps kept
            for b in screen_batches(model, screen, store, rows, batch_size):
                attn = forward(model, b, return_attention=maps).attention
                for m in maps:
                    kept[m].append(attn[m].clone())
        else:  # dense: per-cell DNA reads, per-cell model, every cell's maps kept
            loci = screen.obs["locus"].astype(str).to_numpy()
            for s in range(0, len(rows), batch_size):
                r = rows[s : s + batch_size]
                dna = torch.from_numpy(np.stack([store[loci[i]] for i in r]))  # [b, L, D], one read per cell
                x = screen.X[r]
                rna = torch.from_numpy(np.asarray(x.toarray() if hasattr(x, "toarray") else x, np.float32))  # [b, G]
                attn = reference_maps(model, dna.to(device), rna.to(device))
                for m in maps:
                    kept[m].append(attn[m])
    return {m: torch.cat(v).mean(0, dtype=torch.float64).cpu() for m, v in kept.items()}


def worker(args: argparse.Namespace) -> dict:
    from cdt.data.dnastore import DNAStore

    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    preset = get_preset(args.preset)
    screen, model = build_screen_inputs(args.total, args.dna, preset, args.loci)
    model = model.to(device)
    maps = args.maps.split(",")
    with DNAStore(args.dna) as store:
        batch_size = args.dense_batch_size if args.mode == "dense" else args.batch_size
        extract(args.mode, model, screen, store, np.arange(min(batch_size, args.cells)), maps, batch_size)
        before, before_device = peak_rss_mb(), peak_device_mb(device)
        started = time.perf_counter()
        means = extract(args.mode, model, screen, store, np.arange(args.cells), maps, batch_size)
        seconds = time.perf_counter() - started
    if args.save:
        np.savez(args.save, **{m: v.numpy() for m, v in means.items()})
    return {
        "mode": args.mode,
        "n_cells": args.cells,
        "setup_peak_mb": before,
        "peak_mb": peak_rss_mb(),
        "setup_device_mb": before_device,
        "device_mb": peak_device_mb(device),
        "device": str(device),
        "seconds": seconds,
        "load": os.getloadavg()[0],
    }


def run_worker(
    mode: str,
    n_cells: int,
    total: int,
    dna_path: Path,
    *,
    preset: str = "mini",
    loci: int = 5,
    maps: str = "rna_self_0",
    batch_size: int = 16,
    dense_batch_size: int = 1,
    threads: int = 1,
    device: str = "auto",
    save: Path | None = None,
) -> dict:
    """One measurement in a fresh process (peak RSS is per process)."""
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        "--mode",
        mode,
        "--cells",
        str(n_cells),
        "--total",
        str(total),
        "--dna",
        str(dna_path),
        "--preset",
        preset,
        "--loci",
        str(loci),
        "--maps",
        maps,
        "--batch-size",
        str(batch_size),
        "--dense-batch-size",
        str(dense_batch_size),
        "--threads",
        str(threads),
        "--device",
        device,
    ]
    cmd += ["--save", str(save)] if save else []
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_store(dna_path: Path, preset: str, loci: int) -> None:
    build_screen_inputs(1, dna_path, get_preset(preset), loci)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=64, help="n: the smaller selection")
    p.add_argument("--factor", type=int, default=10, help="the larger selection is factor x n cells")
    p.add_argument("--maps", default="rna_self_0", help="comma-separated map names to extract")
    p.add_argument("--batch-size", type=int, default=16, help="cells per batch of ours (streamed, naive)")
    p.add_argument(
        "--dense-batch-size",
        type=int,
        default=1,
        help="cells per forward pass of the dense reference (1: one cell at a time, as the authors)",
    )
    p.add_argument("--preset", default="mini", help="model and screen sizes")
    p.add_argument("--loci", type=int, default=5, help="loci of the held-out cells (5 held-out genes)")
    p.add_argument("--total", type=int, help="cells in the screen (default factor x n)")
    p.add_argument("--repeats", type=int, default=2, help="interleaved repeats of every measurement")
    p.add_argument("--naive", action="store_true", help="also measure our model with every cell's maps kept")
    p.add_argument(
        "--threads", type=int, help="torch threads per worker (default: 1 if the machine is busy, else torch's choice)"
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--quick", action="store_true", help="tiny preset, 8 -> 16 cells: seconds, checks the script runs")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    p.add_argument("--dna", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--save", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    if args.quick:
        args.preset, args.cells, args.factor, args.repeats, args.batch_size = "tiny", 8, 2, 1, 4
    args.total = args.total or args.cells * args.factor
    threads = choose_threads(args.threads)
    sizes = [args.cells, args.cells * args.factor]
    modes = ["streamed", "dense"] + (["naive"] if args.naive else [])
    runs: dict[tuple[str, int], list[dict]] = {(m, n): [] for m in modes for n in sizes}
    with tempfile.TemporaryDirectory() as tmp:
        dna_path = Path(tmp) / "dna.h5"
        write_store(dna_path, args.preset, args.loci)
        for rep in range(args.repeats):
            for n in sizes:
                for mode in modes if rep % 2 == 0 else modes[::-1]:
                    save = Path(tmp) / f"{mode}_{n}.npz" if rep == 0 else None
                    runs[(mode, n)].append(
                        run_worker(
                            mode,
                            n,
                            args.total,
                            dna_path,
                            preset=args.preset,
                            loci=args.loci,
                            maps=args.maps,
                            batch_size=args.batch_size,
                            dense_batch_size=args.dense_batch_size,
                            threads=threads,
                            device=args.device,
                            save=save,
                        )
                    )
        diff = max(
            float(np.abs(a[k] - b[k]).max())
            for n in sizes
            for a, b in [(np.load(Path(tmp) / f"streamed_{n}.npz"), np.load(Path(tmp) / f"dense_{n}.npz"))]
            for k in a.files
        )
    load = load_average()

    device = runs[("streamed", sizes[0])][0]["device"]
    print(
        f"attention extraction on {device}, preset {args.preset}, maps {args.maps}, batch {args.batch_size} "
        f"(dense: {args.dense_batch_size}), "
        f"{args.loci} loci, {threads} thread(s) per worker; load average after {load}"
    )
    print(f"cell means, streamed vs dense: max |diff| {diff:.1e}")
    print(
        f"{'mode':9} {'cells':>6} {'s (median)':>10} {'cells/s':>8} {'setup peak MB':>14} {'peak MB':>9} "
        f"{'extraction MB':>14}" + (f" {'GPU peak MB':>14}" if device.startswith("cuda") else "")
    )
    for (mode, n), rs in runs.items():
        t, peak, setup = median([r["seconds"] for r in rs]), max(r["peak_mb"] for r in rs), rs[0]["setup_peak_mb"]
        gpu = f" {max(r['device_mb'] for r in rs):14.1f}" if rs[0]["device_mb"] is not None else ""
        print(f"{mode:9} {n:6d} {t:10.2f} {n / t:8.1f} {setup:14.1f} {peak:9.1f} {peak - setup:14.1f}{gpu}")
    speedup = {
        n: median([d["seconds"] / s["seconds"] for s, d in zip(runs[("streamed", n)], runs[("dense", n)], strict=True)])
        for n in sizes
    }
    key = "device_mb" if device.startswith("cuda") else "peak_mb"  # GPU memory on CUDA, else the process's RSS
    growth = {
        m: 100 * (max(r[key] for r in runs[(m, sizes[1])]) / max(r[key] for r in runs[(m, sizes[0])]) - 1)
        for m in modes
    }
    print(
        "speed-up dense/streamed (median of interleaved pairs): "
        + ", ".join(f"{speedup[n]:.2f}x at {n} cells" for n in sizes)
    )
    print(
        f"extraction {args.preset} {sizes[0]}->{sizes[1]} cells: streamed {speedup[sizes[1]]:.2f}x faster than dense "
        f"at {sizes[1]} cells; peak {'GPU memory' if key == 'device_mb' else 'RSS'} growth for {args.factor}x cells: streamed {growth['streamed']:+.1f}%, dense "
        f"{growth['dense']:+.1f}%; load {load}"
    )


if __name__ == "__main__":
    main()
