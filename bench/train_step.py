"""Training-step time of CDT-II: ours vs a per-cell, materialised-attention reference, and FLOP/s vs the matmul peak.

Ours is `cdt.models.CDT2` as the trainer runs it: each distinct locus of the batch once (`locus_index`), the fused
scaled-dot-product kernel, bf16 autocast on CUDA. The reference (`bench/reference.py`) has the same weights but
takes every cell's DNA window and computes softmax(QK^T / sqrt(d)) V explicitly. Both run forward + MSE loss +
backward on the same batches, drawn like the trainer draws them from the training cells of a synthetic screen at
the preset (so a batch carries a realistic number of distinct loci). Repeats are interleaved (alternating order)
after a warm-up, and each round also times one large matmul, so load on a shared machine hits every number of a
round alike; the figures are medians over rounds.

FLOPs per step are counted by `torch.utils.flop_counter.FlopCounterMode` (matmuls, including attention; the CPU
fused attention kernel gets the same formula as the CUDA ones). Achieved FLOP/s / the matmul FLOP/s says how close
to the machine's dense-compute limit a step runs.

    python bench/train_step.py                       # mini dims, batch 64
    python bench/train_step.py --preset paper-lite   # paper widths, 512 genes, batch 8 (CPU-sized)
    python bench/train_step.py --preset paper        # the published dimensions, batch 64 (GPU)
    python bench/train_step.py --d-model 128 --n-genes 512 --batch-size 32   # explicit dims over a preset

The last line printed is the headline: step times, the speed-up, and the fraction of the matmul peak.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from cdt.config import get_preset
from cdt.models import CDT2, CDT2Config
from cdt.models.blocks import AttentionBlock
from common import (
    choose_threads,
    describe_machine,
    load_average,
    matmul_flops_per_s,
    median,
    peak_device_mb,
    pick_device,
    timed,
    training_cell_loci,
)
from reference import ReferenceCDT2
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

# name -> (preset giving the dimensions and the cell/locus distribution, dimension overrides, batch size)
CONFIGS: dict[str, tuple[str, dict, int]] = {
    "tiny": ("tiny", {}, 8),
    "mini": ("mini", {}, 64),
    "paper-lite": ("paper", {"n_genes": 512}, 8),
    "paper": ("paper", {}, 64),
}
DIM_OPTIONS = ("n_genes", "n_bins", "dna_dim", "d_model", "n_heads", "ffn_dim")


# the CPU fused attention kernel has no FlopCounterMode formula of its own: count it like the CUDA kernels
def _attention_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)


def _attention_backward_flops(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out, query, key, value)


aten = torch.ops.aten
CPU_ATTENTION_FLOPS = {
    aten._scaled_dot_product_flash_attention_for_cpu: _attention_flops,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: _attention_backward_flops,
}


@dataclass
class Batch:
    loci: Tensor  # [U] rows of the DNA table: the batch's distinct loci (ours)
    locus_index: Tensor  # [B] position of each cell's locus in `loci` (ours)
    cell_loci: Tensor  # [B] row of the DNA table for each cell (reference)
    rna: Tensor  # [B, G]
    target: Tensor  # [B, G]


def make_batches(
    cfg: CDT2Config, cell_loci: np.ndarray, batch_size: int, n_batches: int, device: torch.device, seed: int
) -> tuple[Tensor, list[Batch]]:
    """Batches of cells drawn as one shuffled training epoch would draw them, and the DNA table of their loci."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(cell_loci))
    drawn = [cell_loci[order[i * batch_size : (i + 1) * batch_size]] for i in range(n_batches)]
    used, codes = np.unique(np.concatenate(drawn), return_inverse=True)  # loci that occur -> DNA table rows
    gen = torch.Generator().manual_seed(seed)
    dna = torch.randn(len(used), cfg.n_bins, cfg.dna_dim, generator=gen).to(device)  # [n_used, L, D]
    batches = []
    for i in range(n_batches):
        rows = torch.as_tensor(codes[i * batch_size : (i + 1) * batch_size])
        loci, locus_index = torch.unique(rows, return_inverse=True)
        rna = torch.log1p(torch.empty(batch_size, cfg.n_genes).exponential_(0.05, generator=gen))
        target = 0.3 * torch.randn(batch_size, cfg.n_genes, generator=gen)
        batches.append(Batch(*(t.to(device) for t in (loci, locus_index, rows, rna, target))))
    return dna, batches


def without_attention_dropout(model: CDT2) -> CDT2:
    """A copy whose attention weights are not dropped (the CPU fused kernel does not support dropout)."""
    model = copy.deepcopy(model)
    for m in model.modules():
        if isinstance(m, AttentionBlock):
            m.attn_dropout = 0.0
    return model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=list(CONFIGS), default="mini")
    for name in DIM_OPTIONS:
        p.add_argument(f"--{name.replace('_', '-')}", type=int, help="override the preset's value")
    p.add_argument("--batch-size", type=int, help="cells per batch (default: 64; paper-lite 8)")
    p.add_argument("--batches", type=int, default=3, help="distinct batches cycled through")
    p.add_argument("--repeats", type=int, default=6, help="timed rounds (each: one step of every implementation)")
    p.add_argument("--warmup", type=int, default=1, help="untimed passes over the batches per implementation")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument(
        "--threads", type=int, help="torch CPU threads (default: 1 if the machine is busy, else torch's choice)"
    )
    p.add_argument("--no-bf16", action="store_true", help="CUDA: run ours in float32 instead of bf16 autocast")
    p.add_argument(
        "--no-variant", action="store_true", help="CPU: skip the extra row of ours without attention dropout"
    )
    p.add_argument("--matmul-n", type=int, default=2048, help="side of the square matmul measuring the peak")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny dims, 2 rounds: a few seconds, checks the script runs")
    args = p.parse_args()
    if args.quick:
        args.preset, args.batches, args.repeats, args.warmup, args.matmul_n = "tiny", 2, 2, 1, 256
    torch.set_num_threads(choose_threads(args.threads))
    device = pick_device(args.device)
    machine = describe_machine(device)
    torch.manual_seed(args.seed)

    preset_name, dims, default_batch = CONFIGS[args.preset]
    preset = get_preset(preset_name)
    dims = {**dims, **{k: getattr(args, k) for k in DIM_OPTIONS if getattr(args, k) is not None}}
    cfg = replace(CDT2Config.from_preset(preset), **dims)
    batch_size = args.batch_size or default_batch
    dna, batches = make_batches(cfg, training_cell_loci(preset), batch_size, args.batches, device, args.seed)

    ours = CDT2(cfg).to(device)
    ref = ReferenceCDT2(ours).to(device)
    with torch.no_grad():  # same function: eval-mode outputs agree
        ours.eval()
        ref.eval()
        b = batches[0]
        diff = (ours(dna[b.loci], b.rna, b.locus_index).rna - ref(dna[b.cell_loci], b.rna)[0]).abs().max().item()
        ours.train()
        ref.train()
    bf16 = device.type == "cuda" and not args.no_bf16
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext

    def step_ours(model: nn.Module, b: Batch) -> None:
        with autocast():
            out = model(dna[b.loci], b.rna, locus_index=b.locus_index).rna  # DNA gathered once per locus
        F.mse_loss(out.float(), b.target).backward()
        model.zero_grad(set_to_none=True)

    def step_ref(b: Batch) -> None:
        out, _ = ref(dna[b.cell_loci], b.rna)  # DNA gathered once per cell
        F.mse_loss(out, b.target).backward()
        ref.zero_grad(set_to_none=True)

    impls = {"ours": lambda b: step_ours(ours, b), "reference": step_ref}
    if device.type == "cpu" and cfg.dropout > 0 and not args.no_variant:
        fused = without_attention_dropout(ours)
        impls["ours, no attention dropout"] = lambda b: step_ours(fused, b)

    # warm-up, counting each batch's FLOPs on the way
    flops = {name: [] for name in impls}
    for name, step in impls.items():
        for _ in range(args.warmup):
            for i, b in enumerate(batches):
                with FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION_FLOPS) as counter:
                    step(b)
                if len(flops[name]) <= i:
                    flops[name].append(counter.get_total_flops())
    peak_dtype = torch.bfloat16 if bf16 else torch.float32
    matmul_flops_per_s(device, args.matmul_n, peak_dtype)  # warm the matmul too

    # interleaved rounds
    names = list(impls)
    times = {name: [] for name in names}
    achieved = {name: [] for name in names}  # per round: FLOP/s / matmul FLOP/s
    peaks = []
    memory: dict[str, float] = {}  # CUDA: peak allocated MB during a step
    for r in range(args.repeats):
        i = r % len(batches)
        peak = matmul_flops_per_s(device, args.matmul_n, peak_dtype)
        peaks.append(peak)
        for name in names if r % 2 == 0 else names[::-1]:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            t = timed(lambda name=name, i=i: impls[name](batches[i]), device)
            times[name].append(t)
            memory[name] = max(memory.get(name, 0.0), peak_device_mb(device) or 0.0)
            achieved[name].append(flops[name][i] / t / peak)
    load = load_average()

    ratio = median([tr / to for tr, to in zip(times["reference"], times["ours"], strict=True)])
    n_train = len(training_cell_loci(preset))
    per_epoch = math.ceil(n_train / batch_size)
    distinct = [len(b.loci) for b in batches]
    print(
        f"CDT-II training step (forward + MSE + backward), config {args.preset}: genes {cfg.n_genes}, "
        f"bins {cfg.n_bins} x {cfg.dna_dim}, d_model {cfg.d_model}, heads {cfg.n_heads}, ffn {cfg.ffn_dim}, "
        f"dropout {cfg.dropout}; batch {batch_size} cells with {min(distinct)}-{max(distinct)} distinct loci "
        f"(mean {np.mean(distinct):.1f}); {'bf16 autocast (ours)' if bf16 else 'float32'}"
    )
    print(f"machine: {machine}; after timing {load}")
    print(f"eval-mode outputs, ours vs reference: max |diff| {diff:.1e}")
    print(
        f"matmul peak ({args.matmul_n}^2, {str(peak_dtype).removeprefix('torch.')}): median "
        f"{median(peaks) / 1e9:.1f} GFLOP/s over {len(peaks)} rounds (min {min(peaks) / 1e9:.1f}, "
        f"max {max(peaks) / 1e9:.1f})"
    )
    cuda = device.type == "cuda"
    print(
        f"{'implementation':28} {'s/step':>8} {'min s':>7} {'GFLOP/step':>11} {'GFLOP/s':>8} {'of peak':>8} "
        f"{'epoch s':>8}" + (f" {'GPU MB':>8}" if cuda else "")
    )
    for name in names:
        gflop = np.mean(flops[name]) / 1e9
        t = median(times[name])
        print(
            f"{name:28} {t:8.3f} {min(times[name]):7.3f} {gflop:11.2f} {gflop / t:8.1f} "
            f"{median(achieved[name]):8.2f} {per_epoch * t:8.1f}" + (f" {memory[name]:8.0f}" if cuda else "")
        )
    print(
        f"(s/step: median over {args.repeats} interleaved rounds; epoch s = {per_epoch} batches x s/step, the "
        f"{n_train} training cells of a {preset_name} screen, forward + backward only)"
    )
    print(
        f"train step {args.preset} (batch {batch_size}): ours {median(times['ours']):.3f} s vs reference "
        f"{median(times['reference']):.3f} s -> {ratio:.2f}x; ours at {median(achieved['ours']):.2f} of the matmul "
        f"peak ({np.mean(flops['ours']) / 1e9 / median(times['ours']):.1f} of {median(peaks) / 1e9:.1f} GFLOP/s); "
        f"load {load}"
    )


if __name__ == "__main__":
    main()
