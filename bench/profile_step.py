"""Where a CDT-II training step spends its time: torch.profiler over full steps, by operator and by module.

Runs the steps of `train_step.py` (ours as `cdt train` runs it, or the authors' way with `--reference`) under
`torch.profiler` and prints the operators with the most self time and each top-level module's forward time (its
backward runs in the autograd engine and is counted under the operators; the VCE poolings run inside `_nuclear` and
are not listed; the reference calls its blocks' parts directly, so for it only the projector and the RNA encoder
are listed).

    python bench/profile_step.py --size paper-lite              # ours
    python bench/profile_step.py --size paper-lite --reference  # the authors' way
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import torch
from cdt.config import get_preset
from cdt.models import CDT2, CDT2Config
from cdt.train.config import TrainConfig
from cdt.train.loop import locus_run_batches
from common import choose_threads, load_average, training_cell_loci
from reference import ReferenceCDT2, ReferenceTrainer
from torch.profiler import ProfilerActivity, profile, record_function
from train_step import SIZES, OursStep, Screen

MODULES = (
    "dna_projector",
    "dna_self_attn_layers",
    "rna_encoder",
    "rna_self_attn_layers",
    "dna_to_rna",
    "task_layer",
)


def label_forwards(model: CDT2) -> None:
    """Wrap each top-level module's forward in a profiler range named after it."""
    for name in MODULES:
        for i, module in enumerate(
            getattr(model, name).children() if name.endswith("layers") else [getattr(model, name)]
        ):
            label = f"forward {name}.{i}" if name.endswith("layers") else f"forward {name}"

            def enter(module, args, label=label):
                module._profile_range = record_function(label)
                module._profile_range.__enter__()

            def leave(module, args, output):
                module._profile_range.__exit__(None, None, None)

            module.register_forward_pre_hook(enter)
            module.register_forward_hook(leave)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=list(SIZES), default="paper-lite")
    p.add_argument("--reference", action="store_true", help="profile the authors' way instead of ours")
    p.add_argument("--batch-size", type=int, help="cells per batch (default: the size's)")
    p.add_argument("--steps", type=int, default=1, help="profiled steps (after one warm-up step)")
    p.add_argument("--rows", type=int, default=20, help="operators listed")
    p.add_argument("--threads", type=int)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(choose_threads(args.threads))
    torch.manual_seed(args.seed)
    preset_name, dims, batch_sizes = SIZES[args.size]
    preset = get_preset(preset_name)
    cfg = replace(CDT2Config.from_preset(preset), **dims)
    train_cfg = TrainConfig.for_model("cdt2", preset_name, batch_size=args.batch_size or batch_sizes[0])
    cell_loci = training_cell_loci(preset)
    screen = Screen(cfg, cell_loci, args.seed)
    device = torch.device("cpu")
    model = CDT2(cfg)
    if args.reference:
        order = np.random.default_rng(args.seed).permutation(len(cell_loci))
        cells = [order[i * train_cfg.batch_size : (i + 1) * train_cfg.batch_size] for i in range(args.steps + 1)]
        trainer = ReferenceTrainer(ReferenceCDT2(model))
        label_forwards(trainer.model.net)

        def step(dna, b):
            trainer.step(dna[b.loci][b.locus_index], b.rna, b.target)
    else:
        gen = torch.Generator().manual_seed(args.seed)
        runs = locus_run_batches(torch.as_tensor(cell_loci), train_cfg.batch_size, train_cfg.locus_run, gen)
        cells = [np.asarray(c) for c in runs[: args.steps + 1]]
        step = OursStep(model, train_cfg, device)
        label_forwards(model)
    batches = [screen.batch(c, device) for c in cells]
    dna = screen.table(device)
    step(dna, batches[0])  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for b in batches[1:]:
            step(dna, b)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) / 1e6
    who = "reference (authors' way)" if args.reference else "ours (cdt train default)"
    print(f"{who}, size {args.size}, batch {train_cfg.batch_size}, {args.steps} step(s): {total:.2f} CPU s profiled")
    print(f"{'operator':50} {'self s':>8} {'share':>6} {'calls':>6}")
    for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[: args.rows]:
        s = e.self_cpu_time_total / 1e6
        print(f"{e.key[:50]:50} {s:8.2f} {s / total:6.1%} {e.count:6d}")
    print(f"{'module forward':50} {'s':>8} {'share':>6}")
    for e in sorted((e for e in events if e.key.startswith("forward ")), key=lambda e: -e.cpu_time_total):
        s = e.cpu_time_total / 1e6
        print(f"{e.key:50} {s:8.2f} {s / total:6.1%}")
    print(f"load {load_average()}")


if __name__ == "__main__":
    main()
