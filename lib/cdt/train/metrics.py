"""Streaming training metrics: flattened Pearson r and pseudo-bulk (per-perturbation cell-mean) Pearson r.

Everything is accumulated as float64 sums, so memory stays flat in the number of cells and the
sums of DistributedDataParallel shards can simply be all-reduced.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def pearson_from_sums(s: Tensor) -> float:
    """Pearson r from [n, sum x, sum y, sum x^2, sum y^2, sum xy]; NaN when either side is constant."""
    n, sx, sy, sxx, syy, sxy = s.tolist()
    if n < 2:
        return math.nan
    vx, vy = sxx - sx * sx / n, syy - sy * sy / n
    if vx <= 0 or vy <= 0:
        return math.nan
    return (sxy - sx * sy / n) / math.sqrt(vx * vy)


class PearsonSums:
    """Pearson r over all (prediction, target) pairs seen, i.e. of the flattened cells x features matrices."""

    def __init__(self, device: torch.device | str = "cpu"):
        self.sums = torch.zeros(6, dtype=torch.float64, device=device)

    def update(self, pred: Tensor, target: Tensor) -> None:
        p, t = pred.detach().double().reshape(-1), target.detach().double().reshape(-1)
        self.sums += torch.stack([p.new_tensor(float(p.numel())), p.sum(), t.sum(), p @ p, t @ t, p @ t])

    def value(self) -> float:
        return pearson_from_sums(self.sums)


class GroupSums:
    """Per-group (perturbation) sums of predicted and observed profiles -> pseudo-bulk Pearson r per group."""

    def __init__(self, n_groups: int, n_features: int, device: torch.device | str = "cpu"):
        self.pred = torch.zeros(n_groups, n_features, dtype=torch.float64, device=device)
        self.target = torch.zeros_like(self.pred)
        self.count = torch.zeros(n_groups, dtype=torch.float64, device=device)

    def update(self, group: Tensor, pred: Tensor, target: Tensor) -> None:
        # group: [B] long; pred, target: [B, F]
        self.pred.index_add_(0, group, pred.detach().double())
        self.target.index_add_(0, group, target.detach().double())
        self.count.index_add_(0, group, torch.ones_like(group, dtype=torch.float64))

    def per_group(self) -> np.ndarray:
        """[K] Pearson r between cell-mean predicted and cell-mean observed profiles (NaN for empty groups)."""
        seen = self.count > 0
        c = self.count.clamp(min=1)[:, None]
        a = self.pred / c
        b = self.target / c
        a = a - a.mean(1, keepdim=True)
        b = b - b.mean(1, keepdim=True)
        denom = (a.square().sum(1) * b.square().sum(1)).sqrt()
        r = (a * b).sum(1) / denom
        r[~seen | (denom == 0)] = math.nan
        return r.cpu().numpy()

    def mean(self) -> float:
        """Mean pseudo-bulk r over the groups that have cells (and non-constant profiles)."""
        r = self.per_group()
        r = r[np.isfinite(r)]
        return float(r.mean()) if r.size else math.nan
