"""The training loop shared by all models: phases, epochs, checkpoints, exact resume, DistributedDataParallel.

Per phase: AdamW (one group, or nuclear/new groups with their own learning rates), ReduceLROnPlateau and
early stopping on the phase's monitored validation column, gradient clipping, the best checkpoint reloaded
at the end of the phase. After every epoch `last.pt` holds everything needed to continue exactly: weights,
optimiser and scheduler state, loop counters, history, and the RNG states of torch/numpy/python (per
process) and of the data-order generator — as tensors and plain lists, so `torch.load(weights_only=True)`
reads it. An interrupted run resumed from `last.pt` reproduces the uninterrupted one.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import math
import os
import random
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from cdt.config import get_preset
from cdt.data.errors import TrainingError
from cdt.models import CDT1, CDT2, CDT3, CDT1Config, CDT2Config, CDT3Config
from cdt.models.blocks import set_fast_dropout
from cdt.models.checkpoints import (
    TransferReport,
    load_state_dict_strict,
    read_torch_file,
    save_checkpoint,
    split_checkpoint,
    transfer_cdt2_to_cdt3,
)
from cdt.train.checks import check_resume
from cdt.train.config import Phase, TrainConfig
from cdt.train.data import PairData, Samples, ScreenData, epoch_batches
from cdt.train.tasks import PairTask, ScreenTask

LAST, BEST, HISTORY = "last.pt", "best.pt", "history.csv"
NONFINITE_HINT = "check these samples' inputs for extreme values, or lower the learning rate"


# --- processes -------------------------------------------------------------------------------------------------


@dataclass
class DistInfo:
    """This process's place in a (possibly single-process) job."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def all_reduce(self, tensors: list[Tensor]) -> None:
        if self.world > 1:
            for t in tensors:
                dist.all_reduce(t)

    def gather(self, obj) -> list:
        """Every rank's `obj`, in rank order (a list of one when single-process)."""
        if self.world == 1:
            return [obj]
        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out


def setup_distributed() -> DistInfo:
    """Join the job `torchrun` (or a test) set up: gloo on CPU, nccl on GPU; single-process otherwise.

    The process group is created once per process and destroyed when the process exits.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    if dist.is_available() and (dist.is_initialized() or world > 1):
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if cuda else "gloo")
            atexit.register(_destroy_process_group)
        rank, world = dist.get_rank(), dist.get_world_size()
        local = int(os.environ.get("LOCAL_RANK", rank))
    else:
        rank, world, local = 0, 1, 0
    device = torch.device("cuda", local % torch.cuda.device_count()) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    return DistInfo(rank=rank, world=world, device=device)


def _destroy_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


# --- RNG states as checkpoint-safe tensors and lists --------------------------------------------------------------


def rng_state() -> dict:
    """torch (CPU and current CUDA device), numpy and python RNG states as tensors / plain lists."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)],
        "python": [int(version), list(py_state), py_gauss],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, py_state, py_gauss = state["python"]
    random.setstate((version, tuple(py_state), py_gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def derive_seed(seed: int, *parts) -> int:
    """A stable 63-bit seed for one stream (e.g. dropout of rank r) from the run seed."""
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


# --- models -------------------------------------------------------------------------------------------------------


def build_model(cfg: TrainConfig, data: ScreenData | PairData) -> nn.Module:
    """The model for `cfg.model` at the preset's dimensions, with gene/protein counts taken from the data."""
    preset = get_preset(cfg.preset)
    if cfg.model == "cdt1":
        mcfg = replace(
            CDT1Config.from_preset(preset),
            n_genes=data.n_genes,
            rna_emb_dim=data.rna_emb.shape[1],
            prot_emb_dim=data.prot_emb.shape[1],
        )
        model: nn.Module = CDT1(mcfg)
    elif cfg.model == "cdt2":
        mcfg = CDT2Config.from_preset(preset, n_genes=data.n_genes)
        model = CDT2(mcfg)
    else:
        mcfg = replace(
            CDT3Config.from_preset(preset, n_genes=data.n_genes, single_stage=cfg.model == "cdt3-single"),
            n_proteins=data.n_proteins,
        )
        model = CDT3(mcfg)
    want, got = (mcfg.n_bins, mcfg.dna_dim), tuple(data.dna.shape[1:])
    if want != got:
        raise ValueError(
            f"{data.path}: DNA windows are [n_bins, dim] = {list(got)} but preset {cfg.preset!r} "
            f"expects {list(want)}; train with the preset the data was made for"
        )
    return model


def cpu_bf16_units() -> bool:
    """True on CPUs with bf16 matrix instructions (AMX or AVX512-bf16): only there does bf16 autocast speed up CPU
    matmuls; elsewhere (AVX2) it converts every operand and is slower than float32."""
    return torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()


CPU_BF16_MIN_WIDTH = 256
"""On a CPU, bf16 autocast pays only for wide layers: on an AVX512-bf16 EPYC (2 cores) a paper-width CDT-II step
(d 512) took 2.45 s with it and 4.71 s in float32, a mini step (d 48) 0.262 s with it and 0.211 s without (the casts
cost more than the small matrix products save)."""


def model_width(cfg) -> int:
    """d_model of the model a training config builds (CDT v1 has its own width)."""
    preset = get_preset(cfg.preset)
    return preset.v1_d_model if cfg.model == "cdt1" else preset.d_model


def bf16_pays(device: torch.device, width: int) -> bool:
    """bf16 autocast speeds training up: on CUDA, and on CPUs with bf16 units for layers `CPU_BF16_MIN_WIDTH` wide."""
    return device.type == "cuda" or (device.type == "cpu" and cpu_bf16_units() and width >= CPU_BF16_MIN_WIDTH)


def bf16_autocast(device: torch.device, enabled: bool = True, width: int = CPU_BF16_MIN_WIDTH):
    """bf16 autocast when `enabled` and it pays here (`bf16_pays`), else a no-op context."""
    if enabled and bf16_pays(device, width):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def make_adamw(params, lr: float, weight_decay: float, fused: bool) -> torch.optim.AdamW:
    """AdamW, with its fused kernel (one pass over every parameter) when `fused`."""
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=fused or None)


def prepare_for_training(model: nn.Module, cfg: TrainConfig) -> nn.Module:
    """Apply the configuration's speed switches that live on the model (the cheaper CPU dropout route)."""
    return set_fast_dropout(model, cfg.fast_dropout)


def locus_run_batches(
    loci: Tensor, batch_size: int, run: int, generator: torch.Generator, drop_last: bool = False
) -> list[list[int]]:
    """Shuffled batches of positions 0..n-1 (`loci` [n]: each position's locus) in which cells of one locus come in
    runs of `run`, so that the DNA branch, which runs once per distinct locus of a batch, runs fewer times.

    Every position is drawn once per epoch: each locus's cells are shuffled and cut into runs, all runs are shuffled
    together and concatenated, and the sequence is cut into batches. A batch of b cells then holds about b / run + 1
    loci (without runs, nearly b at small batches).
    """
    order = torch.randperm(len(loci), generator=generator)
    grouped = order[torch.argsort(loci[order], stable=True)].tolist()  # by locus, shuffled within each
    runs, start = [], 0
    for count in torch.bincount(loci).tolist():
        cells = grouped[start : start + count]
        runs += [cells[i : i + run] for i in range(0, count, run)]
        start += count
    flat = [i for r in torch.randperm(len(runs), generator=generator).tolist() for i in runs[r]]
    batches = [flat[i : i + batch_size] for i in range(0, len(flat), batch_size)]
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


def init_from_cdt2(model: CDT3, source: str | os.PathLike) -> TransferReport:
    """Copy a trained CDT-II (a run directory's best checkpoint, or a checkpoint file) into CDT-III."""
    path = Path(source)
    path = path / BEST if path.is_dir() else path
    report = transfer_cdt2_to_cdt3(path, model)
    if not model.cfg.single_stage and report.skipped:
        raise ValueError(
            f"{path}: this CDT-II does not fit the CDT-III nuclear stage (trained on other genes or "
            f"another preset?)\n{report}"
        )
    if not report.copied:
        raise ValueError(f"{path}: no CDT-II tensor fits this CDT-III\n{report}")
    return report


def write_history(history: list[dict], protocol: str, path: Path) -> None:
    """The per-epoch table as CSV (atomic), with the protocol on every row."""
    df = pd.DataFrame(history)
    df["protocol"] = protocol
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)


# --- the loop -----------------------------------------------------------------------------------------------------


@dataclass
class LoopState:
    phase: int = 0
    phase_epoch: int = 0  # epochs completed in this phase
    epoch: int = 0  # epochs completed in total
    best: float | None = None  # best monitored value of this phase (best checkpoint)
    best_epoch: int = 0
    es_best: float | None = None  # early-stopping reference (improvements of at least min_delta)
    bad_epochs: int = 0
    guard_fired: bool = False
    phase_done: bool = False
    seconds: float = 0.0  # training wall time over all sessions

    def next_phase(self, phase: int) -> LoopState:
        return LoopState(phase=phase, epoch=self.epoch, seconds=self.seconds)


def better(value: float, best: float | None, mode: str, delta: float = 0.0) -> bool:
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value < best - delta if mode == "min" else value > best + delta


class Trainer:
    """Runs (or resumes) the phases of one configuration in `run_dir`; rank 0 writes the files."""

    def __init__(
        self,
        cfg: TrainConfig,
        data: ScreenData | PairData,
        indices: dict[str, np.ndarray],
        run_dir: Path,
        dist_info: DistInfo,
        progress: bool = True,
    ):
        self.cfg, self.data, self.idx, self.run_dir, self.dist = cfg, data, indices, Path(run_dir), dist_info
        self.device = dist_info.device
        task = PairTask(data, cfg.huber_delta) if isinstance(data, PairData) else ScreenTask(data, cfg.protein_loss_on)
        self.task = task.to(self.device)
        self.progress = progress and dist_info.main
        self.history: list[dict] = []
        self.init_info: dict | None = None  # what was copied from the CDT-II run (kept across resumes)
        self.model: nn.Module | None = None
        self.loop = LoopState()

    # -- the whole run --
    def fit(self, stop_after: int | None = None) -> bool:
        """Train every phase (resuming from `last.pt` if present); False if paused after `stop_after` epochs."""
        cfg = self.cfg
        seed_everything(cfg.seed)
        model = build_model(cfg, self.data)
        ckpt_extra = self._load_start(model)
        self.model = prepare_for_training(model, cfg).to(self.device)
        seed_everything(derive_seed(cfg.seed, "train", self.dist.rank))  # dropout stream of this process
        self.data_gen = torch.Generator().manual_seed(cfg.seed)  # identical on all ranks
        loop = self.loop = LoopState()
        if ckpt_extra is not None:
            loop = self._resume_loop(ckpt_extra)

        bar = tqdm(
            total=sum(p.epochs for p in cfg.phases),
            initial=loop.epoch,
            unit="epoch",
            dynamic_ncols=True,
            disable=not self.progress,
            desc=f"{cfg.model} {cfg.preset}",
        )
        try:
            for p, phase in enumerate(cfg.phases):
                if p < loop.phase:
                    continue
                if p > loop.phase:
                    loop = self.loop = loop.next_phase(p)
                opt, sched = self._optimiser(model, phase)
                if ckpt_extra is not None and ckpt_extra["loop"]["phase"] == p and not loop.phase_done:
                    opt.load_state_dict(ckpt_extra["optimizer"])
                    sched.load_state_dict(ckpt_extra["scheduler"])
                net = self._wrap(model)
                while not loop.phase_done:
                    if stop_after is not None and loop.epoch >= stop_after:
                        return False
                    row = self._epoch(net, model, opt, sched, phase, loop)
                    bar.update(1)
                    if loop.phase_done and loop.phase_epoch < phase.epochs:  # stopped early: shrink the ETA
                        bar.total -= phase.epochs - loop.phase_epoch
                        bar.refresh()
                    bar.set_postfix_str(self._postfix(row))
                self._reload_best(model)
            return True
        finally:
            bar.close()

    def _load_start(self, model: nn.Module) -> dict | None:
        """Weights to start from: an unfinished run's `last.pt` (returns its saved state) or, for CDT-III, the
        CDT-II run `init_from` (returns None, as for a fresh start)."""
        cfg, last = self.cfg, self.run_dir / LAST
        if last.exists():
            state, meta = split_checkpoint(read_torch_file(last), str(last))
            check_resume(meta.get("extra", {}), cfg, last)
            load_state_dict_strict(model, state, str(last))
            self.init_info = meta["extra"].get("init")
            return meta["extra"]
        if cfg.init_from is not None:
            report = init_from_cdt2(model, cfg.init_from)
            self.init_info = {
                "from": str(cfg.init_from),
                "copied": len(report.copied),
                "skipped": [k for k, _ in report.skipped],
            }
        return None

    def _resume_loop(self, ckpt_extra: dict) -> LoopState:
        """Epoch counters, history, batch order and (same process count) random streams of the saved run."""
        self.loop = LoopState(**ckpt_extra["loop"])
        self.history = list(ckpt_extra["history"])
        self.data_gen.set_state(ckpt_extra["data_generator"])
        states = ckpt_extra["rng"]
        if len(states) == self.dist.world:
            set_rng_state(states[self.dist.rank])
        return self.loop

    @property
    def batch_bar(self) -> bool:
        """A bar over each epoch's batches in a terminal; a notebook shows one bar per model (its epochs)."""
        return self.progress and not any(c.__module__ == "tqdm.notebook" for c in tqdm.__mro__)

    def _optimiser(self, model: nn.Module, phase: Phase):
        """AdamW over the trainable parameters (CDT-III: nuclear frozen, or nuclear/new groups) + plateau scheduler."""
        nuclear_ids = {id(p) for p in model.nuclear_parameters()} if isinstance(model, CDT3) else set()
        for p in model.parameters():
            p.requires_grad_(not (phase.freeze_nuclear and id(p) in nuclear_ids))
        if phase.lr_nuclear is not None and nuclear_ids and not phase.freeze_nuclear:
            groups = [
                {"params": [p for p in model.parameters() if id(p) not in nuclear_ids], "lr": phase.lr, "name": "new"},
                {
                    "params": [p for p in model.parameters() if id(p) in nuclear_ids],
                    "lr": phase.lr_nuclear,
                    "name": "nuclear",
                },
            ]
        else:
            groups = [{"params": [p for p in model.parameters() if p.requires_grad], "lr": phase.lr, "name": "all"}]
        opt = make_adamw(groups, phase.lr, phase.weight_decay, self.cfg.fused_adamw)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode=phase.mode, factor=phase.sched_factor, patience=phase.sched_patience
        )
        return opt, sched

    def _wrap(self, model: nn.Module) -> nn.Module:
        """The module the training pass calls: the model, under DDP with several processes, compiled if asked."""
        net = model
        if self.dist.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            net = DistributedDataParallel(model, device_ids=ids)
        return torch.compile(net) if self.cfg.compile else net

    def _autocast(self):
        return bf16_autocast(self.device, self.cfg.bf16, model_width(self.cfg))

    # -- one epoch --
    def _epoch(self, net, model, opt, sched, phase: Phase, loop: LoopState) -> dict:
        started = time.perf_counter()
        lrs = {g["name"]: g["lr"] for g in opt.param_groups}
        train = self._train_pass(net, model, opt, phase)
        val = self.evaluate(self.idx["select"], phase.protein_lambda).summary()
        row = {
            "epoch": loop.epoch + 1,
            "phase": phase.name,
            "phase_epoch": loop.phase_epoch + 1,
            "lr": lrs.get("new", lrs.get("all")),
            "lr_nuclear": lrs.get("nuclear", math.nan),
            "protein_lambda": phase.protein_lambda,
            **{f"train_{k}": v for k, v in train.items()},
            **{f"val_{k}": v for k, v in val.items()},
        }
        value = row[phase.monitor]
        sched.step(value)
        row["improved"] = better(value, loop.best, phase.mode)
        if row["improved"]:
            loop.best, loop.best_epoch = value, row["epoch"]
            if self.dist.main:
                save_checkpoint(self.run_dir / BEST, model, self._best_extra(row, phase))
        if better(value, loop.es_best, phase.mode, phase.min_delta):
            loop.es_best, loop.bad_epochs = value, 0
        else:
            loop.bad_epochs += 1
        if phase.rna_guard is not None and not loop.guard_fired and row["val_r"] < phase.rna_guard:
            for g in opt.param_groups:
                if g["name"] == "nuclear":
                    g["lr"] *= 0.1
            loop.guard_fired = True
        loop.epoch += 1
        loop.phase_epoch += 1
        loop.seconds += time.perf_counter() - started
        loop.phase_done = loop.phase_epoch >= phase.epochs or loop.bad_epochs >= phase.patience
        self.history.append(row)
        self._save_last(model, opt, sched, loop)
        return row

    def _train_pass(self, net, model, opt, phase: Phase) -> dict[str, float]:
        model.train()
        idx = self.idx["train"]
        if isinstance(self.data, ScreenData) and self.cfg.locus_run > 1 and self.dist.world == 1:
            loci = self.data.locus[torch.as_tensor(idx)]
            batches = locus_run_batches(
                loci, self.cfg.batch_size, self.cfg.locus_run, self.data_gen, self.cfg.drop_last
            )
        else:
            batches = epoch_batches(
                len(idx), self.cfg.batch_size, self.data_gen, self.dist.rank, self.dist.world, self.cfg.drop_last
            )
        collate = self.data.collate
        if isinstance(self.data, ScreenData):  # control inputs are drawn afresh each epoch
            collate = functools.partial(collate, epoch=self.loop.epoch)
        # (batch number, its cells) per forward pass: a batch is cut into micro-batches whose losses, weighted by
        # their share of the batch's cells, add up to the batch's mean loss before the one optimiser step
        step = self.cfg.micro_batch or max(len(b) for b in batches)
        passes = [(b, cells[i : i + step]) for b, cells in enumerate(batches) for i in range(0, len(cells), step)]
        loader = DataLoader(Samples(idx), batch_sampler=[cells for _, cells in passes], collate_fn=collate)
        meter = self.task.meter(self.device)
        params = [p for p in model.parameters() if p.requires_grad]
        for k, batch in enumerate(tqdm(loader, desc=phase.name, unit="pass", leave=False, disable=not self.batch_bar)):
            b, cells = passes[k]
            batch = batch.to(self.device)
            with self._autocast():
                out = self.task.forward(net, batch)
            loss, parts = self.task.loss(out, batch, phase.protein_lambda)
            if not torch.isfinite(loss):
                raise TrainingError(self._nonfinite(idx[cells], b, len(batches)), NONFINITE_HINT)
            if k == 0 or passes[k - 1][0] != b:
                opt.zero_grad(set_to_none=True)
            (loss * (len(cells) / len(batches[b]))).backward()
            if k == len(passes) - 1 or passes[k + 1][0] != b:
                nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
                opt.step()
            meter.update(out, batch, parts)
        self.dist.all_reduce(meter.tensors())
        return meter.summary()

    @torch.no_grad()
    def evaluate(self, idx: np.ndarray, lam: float, predict=None):
        """Meter over the samples `idx` (sharded across processes, then summed); `predict` defaults to the model."""
        if predict is None:
            self.model.eval()

            def predict(batch):
                with self._autocast():
                    return self.task.forward(self.model, batch)

        batches = epoch_batches(len(idx), self.cfg.batch_size, None, self.dist.rank, self.dist.world)
        loader = DataLoader(Samples(idx), batch_sampler=batches, collate_fn=self.data.collate)
        meter = self.task.meter(self.device)
        for batch in loader:
            batch = batch.to(self.device)
            out = predict(batch)
            _, parts = self.task.loss(out, batch, lam)
            meter.update(out, batch, parts)
        self.dist.all_reduce(meter.tensors())
        return meter

    def _nonfinite(self, rows: np.ndarray, b: int, n_batches: int) -> str:
        """Where a non-finite loss appeared: epoch, batch and the first samples (and DNA loci) in it."""
        where = f"{self.run_dir}: non-finite training loss at epoch {self.loop.epoch + 1}, batch {b + 1} of {n_batches}"
        if isinstance(self.data, ScreenData):
            loci = sorted(set(self.data.loci[self.data.locus[rows].numpy()]))
            return f"{where}: cells {', '.join(self.data.obs_names[rows[:3]])}; loci {', '.join(loci[:5])}"
        return f"{where}: pairs {', '.join(self.data.pair_ids[rows[:3]])}"

    # -- checkpoints --
    def _best_extra(self, row: dict, phase: Phase) -> dict:
        extra = {
            "train_config": self.cfg.to_dict(),
            "epoch": row["epoch"],
            "phase": phase.name,
            "monitor": phase.monitor,
            "value": float(row[phase.monitor]),
            "protocol": self.cfg.protocol,
        }
        if isinstance(self.data, ScreenData):
            extra["genes"] = list(self.data.genes)
            if self.data.expressed is not None:
                extra["expressed_mask"] = self.data.expressed.clone()
                extra["protein_names"] = list(self.data.protein_names)
        return extra

    def _save_last(self, model: nn.Module, opt, sched, loop: LoopState) -> None:
        states = self.dist.gather(rng_state())
        if self.dist.main:
            save_checkpoint(
                self.run_dir / LAST,
                model,
                {
                    "train_config": self.cfg.to_dict(),
                    "loop": asdict(loop),
                    "history": self.history,
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "data_generator": self.data_gen.get_state(),
                    "rng": states,
                    **({"init": self.init_info} if self.init_info is not None else {}),
                },
            )
            write_history(self.history, self.cfg.protocol, self.run_dir / HISTORY)
        self.dist.barrier()

    def _reload_best(self, model: nn.Module) -> None:
        self.dist.barrier()
        path = self.run_dir / BEST
        if path.exists():
            state, _ = split_checkpoint(read_torch_file(path), str(path))
            load_state_dict_strict(model, state, str(path))

    @staticmethod
    def _postfix(row: dict) -> str:
        return (
            f"{row['phase']} loss {row['train_loss']:.4f} val r {row['val_r']:.3f} "
            f"pb {row['val_pb_r']:.3f} lr {row['lr']:.1e}"
            if "val_pb_r" in row
            else f"{row['phase']} loss {row['train_loss']:.4f} val r {row['val_r']:.3f} lr {row['lr']:.1e}"
        )
