"""Training-step time of CDT-II: ours as `cdt train` runs it by default vs the authors' way (`bench/reference.py`).

Both take full optimiser steps (zero_grad, forward, MSE, backward, gradient clipping to norm 1.0, AdamW) on batches of
the training cells of a synthetic screen at the chosen size, drawn the way each trains:

- ours: `TrainConfig`'s defaults for this device, through the trainer's own helpers (`prepare_for_training`,
  `locus_run_batches`, `make_adamw`, `bf16_autocast`): cells of one locus drawn in runs, each distinct locus of a
  batch through the DNA branch once, the cheaper CPU dropout route, fused AdamW, bf16 autocast where the hardware
  has bf16 units (CUDA; CPUs with AMX or AVX512-bf16), and on CUDA torch.compile (`--compile` / `--no-compile`);
  on CUDA PyTorch's fused attention kernels apply the attention dropout themselves;
- reference: a plain shuffle, every cell's own DNA window (stacked before timing, as the authors' DataLoader workers
  stack them off the critical path), PyTorch's attention with the model's dropout, float32, PyTorch's default AdamW.

Same weights at the start, same threads, one process; rounds alternate the order (ours, reference, reference,
ours, ...) after a warm-up so that load hits both alike, and the figures are medians over rounds. `--levers` adds
rows of ours with one speed switch turned off each, measuring what each contributes.

    python bench/train_step.py --size mini         # mini dimensions, batch 64 (dropout 0, as the mini preset)
    python bench/train_step.py --size paper-lite   # paper widths, 512 genes, batch 8, dropout 0.3
    python bench/train_step.py --size paper        # the published model: batch 2 on a CPU, 64 on CUDA
    python bench/train_step.py --size paper-lite --levers

The last line printed is the headline: `speedup X.XXx (reference A s/step, ours B s/step)`.
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from cdt.config import get_preset
from cdt.models import CDT2, CDT2Config
from cdt.train.config import TrainConfig
from cdt.train.loop import bf16_autocast, bf16_pays, locus_run_batches, make_adamw, model_width, prepare_for_training
from common import choose_threads, describe_machine, load_average, median, pick_device, timed, training_cell_loci
from reference import ReferenceCDT2, ReferenceTrainer
from torch import Tensor, nn

# name -> (preset giving the dimensions and the cell/locus distribution, dimension overrides, batch size CPU / CUDA)
SIZES: dict[str, tuple[str, dict, tuple[int, int]]] = {
    "tiny": ("tiny", {}, (8, 8)),
    "mini": ("mini", {}, (64, 64)),
    "paper-lite": ("paper", {"n_genes": 512}, (8, 8)),
    "paper": ("paper", {}, (2, 64)),
}
AUTHORS_A100_EPOCH_MIN = 6  # the authors' reported epoch time of the published configuration on one A100
LEVERS = {  # row name -> TrainConfig change that turns one lever off
    "ours without fast dropout": {"fast_dropout": False},
    "ours without locus runs": {"locus_run": 1},
    "ours without fused AdamW": {"fused_adamw": False},
    "ours in float32 (no bf16 autocast)": {"bf16": False},  # a row only where bf16 is on (`bf16_pays`)
}


@dataclass
class Batch:
    cells: np.ndarray  # [B] training-cell positions
    loci: Tensor  # [U] rows of the DNA table: the batch's distinct loci
    locus_index: Tensor  # [B] position of each cell's locus in `loci`
    rna: Tensor  # [B, G]
    target: Tensor  # [B, G]
    cell_dna: Tensor | None = None  # [B, n_bins, dna_dim] each cell's own window (the reference's input)


class Screen:
    """Synthetic inputs of the training cells: a DNA window per locus, an RNA profile and a target per cell."""

    def __init__(self, cfg: CDT2Config, cell_loci: np.ndarray, seed: int):
        self.cell_loci = cell_loci
        self.gen = torch.Generator().manual_seed(seed)
        self.cfg = cfg
        self.dna: dict[int, Tensor] = {}  # locus -> [n_bins, dna_dim], made when first drawn

    def batch(self, cells: np.ndarray, device: torch.device) -> Batch:
        codes = torch.as_tensor(self.cell_loci[cells])
        loci, locus_index = torch.unique(codes, return_inverse=True)
        for locus in loci.tolist():
            if locus not in self.dna:
                self.dna[locus] = torch.randn(self.cfg.n_bins, self.cfg.dna_dim, generator=self.gen)
        rna = torch.log1p(torch.empty(len(cells), self.cfg.n_genes).exponential_(0.05, generator=self.gen))
        target = 0.3 * torch.randn(len(cells), self.cfg.n_genes, generator=self.gen)
        return Batch(cells, loci.to(device), locus_index.to(device), rna.to(device), target.to(device))

    def table(self, device: torch.device) -> Tensor:
        """[max locus + 1, n_bins, dna_dim] DNA table (zeros for loci never drawn)."""
        table = torch.zeros(max(self.dna) + 1, self.cfg.n_bins, self.cfg.dna_dim)
        for locus, window in self.dna.items():
            table[locus] = window
        return table.to(device)


class OursStep:
    """One step of `cdt train` with `train_cfg`'s speed switches."""

    def __init__(self, model: CDT2, train_cfg: TrainConfig, device: torch.device):
        model = prepare_for_training(model, train_cfg)
        self.model = torch.compile(model) if train_cfg.compile else model
        self.cfg, self.device = train_cfg, device
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.opt = make_adamw(self.params, 1e-4, 1e-5, train_cfg.fused_adamw)

    def __call__(self, dna: Tensor, b: Batch) -> None:
        self.model.train()
        with bf16_autocast(self.device, self.cfg.bf16, model_width(self.cfg)):
            out = self.model(dna[b.loci], b.rna, locus_index=b.locus_index).rna  # DNA once per locus
        loss = F.mse_loss(out.float(), b.target)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip)
        self.opt.step()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=list(SIZES), default="mini")
    p.add_argument("--batch-size", type=int, help="cells per batch (default: the size's)")
    p.add_argument("--batches", type=int, default=3, help="distinct batches cycled through")
    p.add_argument("--repeats", type=int, default=6, help="timed rounds (each: one step of every implementation)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps per implementation")
    p.add_argument("--levers", action="store_true", help="add rows of ours with one speed switch off each")
    p.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        help="torch.compile ours (default: on CUDA only; the warm-up then includes compiling)",
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument(
        "--threads", type=int, help="torch CPU threads (default: 1 if the machine is busy, else torch's choice)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny dims, 2 rounds: a few seconds, checks the script runs")
    args = p.parse_args()
    if args.quick:
        args.size, args.batches, args.repeats, args.warmup = "tiny", 2, 2, 1
    torch.set_num_threads(choose_threads(args.threads))
    device = pick_device(args.device)
    machine = describe_machine(device)
    torch.manual_seed(args.seed)

    preset_name, dims, batch_sizes = SIZES[args.size]
    preset = get_preset(preset_name)
    cfg = replace(CDT2Config.from_preset(preset), **dims)
    batch_size = args.batch_size or batch_sizes[device.type == "cuda"]
    compile_ours = device.type == "cuda" if args.compile is None else args.compile
    train_cfg = TrainConfig.for_model("cdt2", preset_name, batch_size=batch_size, compile=compile_ours)
    cell_loci = training_cell_loci(preset)
    screen = Screen(cfg, cell_loci, args.seed)

    # the first batches of one epoch, drawn as each trainer draws them
    gen = torch.Generator().manual_seed(args.seed)
    ours_cells = locus_run_batches(torch.as_tensor(cell_loci), batch_size, train_cfg.locus_run, gen)
    ref_cells = np.random.default_rng(args.seed).permutation(len(cell_loci))
    ours_batches = [screen.batch(np.asarray(c), device) for c in ours_cells[: args.batches]]
    ref_batches = [screen.batch(ref_cells[i * batch_size : (i + 1) * batch_size], device) for i in range(args.batches)]
    dna = screen.table(device)
    for b in ref_batches:  # stacked before timing, as the authors' DataLoader workers do it off the critical path
        b.cell_dna = dna[b.loci][b.locus_index]

    model = CDT2(cfg).to(device)
    reference = ReferenceTrainer(ReferenceCDT2(model).to(device))
    with torch.no_grad():  # the same function: eval-mode outputs agree
        b = ref_batches[0]
        ours_eval = model.eval()(dna[b.loci], b.rna, locus_index=b.locus_index).rna
        diff = (ours_eval - reference.model.eval()(b.cell_dna, b.rna)).abs().max().item()
    impls = {"ours": (OursStep(model, train_cfg, device), ours_batches)}
    if args.levers:
        for name, change in LEVERS.items():
            if "bf16" in change and not bf16_pays(device, model_width(train_cfg)):
                continue  # float32 already
            variant = train_cfg.with_(**change)
            batches = ours_batches
            if "locus_run" in change:
                batches = ref_batches  # a plain shuffle
            impls[name] = (OursStep(copy.deepcopy(model), variant, device), batches)

    def ref_step(dna: Tensor, b: Batch) -> None:
        reference.step(b.cell_dna, b.rna, b.target)  # every cell's own DNA window

    impls["reference"] = (ref_step, ref_batches)

    for step, batches in impls.values():  # warm-up
        for i in range(args.warmup):
            step(dna, batches[i % len(batches)])
    names = list(impls)
    times: dict[str, list[float]] = {name: [] for name in names}
    cpu_times: dict[str, list[float]] = {name: [] for name in names}  # this process's CPU seconds (busy machines)
    for r in range(args.repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            step, batches = impls[name]
            cpu = time.process_time()
            times[name].append(timed(lambda step=step, b=batches[r % len(batches)]: step(dna, b), device))
            cpu_times[name].append(time.process_time() - cpu)
    load = load_average()

    n_train = len(cell_loci)
    per_epoch = math.ceil(n_train / batch_size)
    distinct = {name: [len(b.loci) for b in batches] for name, (_, batches) in impls.items()}
    bf16 = train_cfg.bf16 and bf16_pays(device, model_width(train_cfg))
    print(
        f"CDT-II training step, size {args.size}: genes {cfg.n_genes}, bins {cfg.n_bins} x {cfg.dna_dim}, d_model "
        f"{cfg.d_model}, heads {cfg.n_heads}, ffn {cfg.ffn_dim}, dropout {cfg.dropout}; batch {batch_size}"
    )
    print(f"device: {device} ({machine}); after timing {load}")
    print(
        f"ours: {'bf16 autocast' if bf16 else 'float32 (bf16 does not pay here)'}, fast dropout "
        f"{train_cfg.fast_dropout}, locus runs of {train_cfg.locus_run}, fused AdamW {train_cfg.fused_adamw}, "
        f"compiled {train_cfg.compile}; "
        "reference: float32, per-cell DNA, PyTorch attention with dropout"
    )
    print(f"eval-mode outputs, ours vs reference (same weights): max |diff| {diff:.1e}")
    print(f"{'implementation':30} {'s/step':>8} {'min s':>8} {'CPU s':>8} {'loci/batch':>10} {'epoch min':>10}")
    for name in names:
        t = median(times[name])
        print(
            f"{name:30} {t:8.3f} {min(times[name]):8.3f} {median(cpu_times[name]):8.3f} "
            f"{np.mean(distinct[name]):10.1f} {per_epoch * t / 60:10.1f}"
        )
    print(
        f"(median over {args.repeats} interleaved rounds; CPU s: this process's CPU time per step, a steadier figure "
        f"on a busy machine; epoch = {per_epoch} steps over the {n_train} training cells of a {preset_name} screen)"
    )
    if args.size == "paper":
        print(
            f"epoch at the paper configuration on {device}: ours {per_epoch * median(times['ours']) / 60:.1f} min, "
            f"reference {per_epoch * median(times['reference']) / 60:.1f} min (authors: ~{AUTHORS_A100_EPOCH_MIN} "
            "min per epoch on one A100, batch 64)"
        )
    ratio = median([tr / to for tr, to in zip(times["reference"], times["ours"], strict=True)])
    print(
        f"speedup {ratio:.2f}x (reference {median(times['reference']):.3f} s/step, ours {median(times['ours']):.3f} s/step)"
    )


if __name__ == "__main__":
    main()
