"""Helpers shared by the benchmarks: devices and timing, the machine's matmul peak, load, memory, synthetic inputs.

Timings on a shared machine are noisy, so the scripts compare implementations within one process (or one run of
interleaved subprocesses) and report the load average next to every figure.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from cdt.config import HELD_OUT_GENES, Preset

N_TARGETS = 28  # CDT-II TSS targets; HELD_OUT_GENES of them are held out of training


def pick_device(name: str = "auto") -> torch.device:
    """`auto` = CUDA when present, else CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> float:
    """Wall seconds of one call, with the device's queued work finished before and after."""
    sync(device)
    started = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - started


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def load_average() -> str:
    """1/5/15-minute load averages and the number of cores, e.g. '10.5/10.6/9.5 on 2 cores'."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f}/{five:.1f}/{fifteen:.1f} on {os.cpu_count()} cores"


def describe_machine(device: torch.device) -> str:
    """One line naming where the numbers come from."""
    if device.type == "cuda":
        where = torch.cuda.get_device_name(device)
    else:
        where = f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} torch threads"
    return f"{where}; torch {torch.__version__}; load average before {load_average()}"


def matmul_flops_per_s(device: torch.device, n: int = 2048, dtype: torch.dtype = torch.float32) -> float:
    """FLOP/s of one large square matmul (2 n^3 FLOPs) — the machine's practical dense-compute peak right now."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b  # first call: allocator and kernel selection
    return 2 * n**3 / timed(lambda: a @ b, device)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux ru_maxrss is in kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_device_mb(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None


def choose_threads(requested: int | None) -> int:
    """Torch CPU threads to use: as requested, else 1 when anything else is running (1-minute load above 1), else
    torch's default. With two threads on a busy machine, OpenMP workers wait at barriers for siblings that are not
    scheduled: steps then took 2-10x longer here, and by amounts that vary from run to run."""
    if requested:
        return requested
    return 1 if os.getloadavg()[0] > 1.0 else torch.get_num_threads()


def training_cell_loci(preset: Preset) -> np.ndarray:
    """[N] locus code of every training cell of a synthetic screen at this preset (paper protocol: all TSS targets
    but the held-out ones, plus every SNP locus), from the preset's mean cells per target and per SNP."""
    n_tss = N_TARGETS - len(HELD_OUT_GENES)
    tss = np.repeat(np.arange(n_tss), preset.cells_per_target)
    snp = np.repeat(n_tss + np.arange(preset.n_snp_loci), preset.cells_per_snp)
    return np.concatenate([tss, snp])


def build_screen_inputs(total: int, dna_path: Path, preset: Preset, n_loci: int, seed: int = 0):
    """A held-out screen of `total` cells spread in blocks over `n_loci` loci, its DNA store (written once), and a
    random-weight CDT-II at the preset's sizes: the inputs of the extraction benchmarks."""
    import pandas as pd
    from cdt.data.dnastore import write_dna_store
    from cdt.data.screen import make_screen
    from cdt.models import CDT2, CDT2Config

    rng = np.random.default_rng(seed)
    loci = [f"LOCUS{k}" for k in range(n_loci)]
    if not dna_path.exists():
        table = pd.DataFrame(
            {"locus_id": loci, "chrom": "chr1", "center": [10_000 * (k + 1) for k in range(n_loci)], "strand": "+"}
        )
        emb = {k: rng.normal(size=(preset.n_bins, preset.dna_dim)).astype(np.float32) for k in loci}
        write_dna_store(dna_path, emb, table, model="bench random")
    g = preset.n_genes
    expr = np.log1p(rng.gamma(0.5, 20.0, size=(total, g))).astype(np.float32)
    perts = [loci[i * n_loci // total] for i in range(total)]
    obs = pd.DataFrame(
        {"perturbation": perts, "kind": "TSS", "locus": perts, "split": "test"},
        index=[f"cell{i}" for i in range(total)],
    )
    screen = make_screen(
        expr,
        expr - expr.mean(0),
        obs,
        [f"G{i}" for i in range(g)],
        np.ones(g),
        expr.mean(0),
        source="bench",
        held_out=loci,
    )
    torch.manual_seed(seed)
    return screen, CDT2(CDT2Config.from_preset(preset)).eval()
