"""What a model predicts, its loss and its running metrics — one task for screens, one for CDT v1 pairs.

`ScreenTask` (CDT-II / CDT-III): MSE over all cells x genes, plus lambda x MSE over the expressed proteins.
`PairTask` (CDT v1): Huber (delta 1) on the output at each pair's target gene only.
Meters accumulate float64 sums (all-reducible across processes) and summarise them as history columns.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cdt.models import ModelOutput
from cdt.train.data import CellBatch, PairBatch, PairData, ScreenData
from cdt.train.metrics import GroupSums, PearsonSums


def rna_protein_loss(
    rna_pred: Tensor,
    rna_target: Tensor,
    protein_pred: Tensor | None = None,
    protein_target: Tensor | None = None,
    protein_mask: Tensor | None = None,
    lam: float = 0.0,
) -> tuple[Tensor, dict[str, Tensor]]:
    """L = MSE(RNA) over B x G + lam * MSE(protein) over B x (proteins in `protein_mask`) (paper/METHODS.md, 'CDT-III
    loss and phases')."""
    rna_loss = F.mse_loss(rna_pred.float(), rna_target)
    if protein_pred is None:
        return rna_loss, {"loss": rna_loss}
    p, t = protein_pred.float(), protein_target
    if protein_mask is not None:
        p, t = p[:, protein_mask], t[:, protein_mask]  # [B, E]
    protein_loss = F.mse_loss(p, t)
    loss = rna_loss + lam * protein_loss
    return loss, {"loss": loss, "rna_loss": rna_loss, "protein_loss": protein_loss}


def target_huber_loss(pred: Tensor, target_index: Tensor, beta: Tensor, delta: float | None = 1.0) -> Tensor:
    """Huber(delta) between each sample's output at its target gene and beta; the other genes get no loss.

    pred: [B, G] all gene outputs; target_index: [B]; beta: [B]. `delta=None` gives MSE.
    """
    value = pred.float().gather(1, target_index[:, None]).squeeze(1)  # [B]
    return F.mse_loss(value, beta) if delta is None else F.huber_loss(value, beta, delta=delta)


class ScreenMeter:
    """Running loss, flattened r and pseudo-bulk r (RNA, and proteins over the loss mask) of one pass."""

    def __init__(self, n_groups: int, n_genes: int, protein_mask: Tensor | None, device: torch.device):
        self.protein_mask = protein_mask
        self.loss = torch.zeros(4, dtype=torch.float64, device=device)  # n, loss, rna_loss, protein_loss
        self.rna_r = PearsonSums(device)
        self.rna_pb = GroupSums(n_groups, n_genes, device)
        if protein_mask is not None:
            self.prot_r = PearsonSums(device)
            self.prot_pb = GroupSums(n_groups, int(protein_mask.sum()), device)

    def update(self, out: ModelOutput, batch: CellBatch, parts: dict[str, Tensor]) -> None:
        n = len(batch)
        vals = [parts["loss"], parts.get("rna_loss", parts["loss"]), parts.get("protein_loss", parts["loss"] * 0)]
        self.loss += torch.stack([self.loss.new_tensor(float(n)), *(v.detach().double() * n for v in vals)])
        rna = out.rna.float()
        self.rna_r.update(rna, batch.target)
        self.rna_pb.update(batch.group, rna, batch.target)
        if self.protein_mask is not None:
            p, t = out.protein.float()[:, self.protein_mask], batch.protein_target[:, self.protein_mask]
            self.prot_r.update(p, t)
            self.prot_pb.update(batch.group, p, t)

    def tensors(self) -> list[Tensor]:
        ts = [self.loss, self.rna_r.sums, self.rna_pb.pred, self.rna_pb.target, self.rna_pb.count]
        if self.protein_mask is not None:
            ts += [self.prot_r.sums, self.prot_pb.pred, self.prot_pb.target, self.prot_pb.count]
        return ts

    def summary(self) -> dict[str, float]:
        n, loss, rna_loss, protein_loss = self.loss.tolist()
        out = {"loss": loss / n if n else math.nan, "r": self.rna_r.value(), "pb_r": self.rna_pb.mean()}
        if self.protein_mask is not None:
            out.update(
                rna_loss=rna_loss / n if n else math.nan,
                protein_loss=protein_loss / n if n else math.nan,
                protein_r=self.prot_r.value(),
                protein_pb_r=self.prot_pb.mean(),
            )
        return out

    def per_group(self, names: np.ndarray) -> dict[str, dict[str, float]]:
        """Pseudo-bulk r per perturbation that has cells: {name: {"pb_r": r[, "protein_pb_r": r], "n_cells": n}}."""
        rna = self.rna_pb.per_group()
        prot = self.prot_pb.per_group() if self.protein_mask is not None else None
        counts = self.rna_pb.count.cpu().numpy()
        out = {}
        for k in np.flatnonzero(counts > 0):
            row = {"n_cells": int(counts[k]), "pb_r": float(rna[k])}
            if prot is not None:
                row["protein_pb_r"] = float(prot[k])
            out[str(names[k])] = row
        return out


class PairMeter:
    """Running Huber loss, Pearson r, R^2 and MAE of CDT v1 target-gene predictions."""

    def __init__(self, device: torch.device):
        self.sums = torch.zeros(4, dtype=torch.float64, device=device)  # n, loss, sum sq. error, sum abs. error
        self.r = PearsonSums(device)

    def update(self, out: ModelOutput, batch: PairBatch, parts: dict[str, Tensor]) -> None:
        value = out.rna.float().gather(1, batch.target_index[:, None]).squeeze(1).detach().double()  # [B]
        err = value - batch.beta.double()
        n = len(batch)
        self.sums += torch.stack(
            [self.sums.new_tensor(float(n)), parts["loss"].detach().double() * n, err.square().sum(), err.abs().sum()]
        )
        self.r.update(value, batch.beta)

    def tensors(self) -> list[Tensor]:
        return [self.sums, self.r.sums]

    def summary(self) -> dict[str, float]:
        n, loss, sse, sae = self.sums.tolist()
        if not n:
            return {"loss": math.nan, "r": math.nan, "r2": math.nan, "mae": math.nan}
        _, _, sy, _, syy, _ = self.r.sums.tolist()
        sst = syy - sy * sy / n
        return {"loss": loss / n, "r": self.r.value(), "r2": 1 - sse / sst if sst > 0 else math.nan, "mae": sae / n}


class ScreenTask:
    """CDT-II / CDT-III on a screen: predict every gene's log2FC (and the protein changes) of each cell."""

    def __init__(self, data: ScreenData, protein_loss_on: str = "expressed"):
        self.data = data
        self.protein_mask = None
        if data.protein is not None:
            self.protein_mask = data.expressed if protein_loss_on == "expressed" else torch.ones_like(data.expressed)

    def to(self, device: torch.device) -> ScreenTask:
        if self.protein_mask is not None:
            self.protein_mask = self.protein_mask.to(device)
        return self

    def forward(self, model: nn.Module, batch: CellBatch) -> ModelOutput:
        if batch.protein is not None:
            return model(batch.dna, batch.rna, batch.protein, locus_index=batch.locus_index)
        return model(batch.dna, batch.rna, locus_index=batch.locus_index)

    def loss(self, out: ModelOutput, batch: CellBatch, lam: float) -> tuple[Tensor, dict[str, Tensor]]:
        return rna_protein_loss(out.rna, batch.target, out.protein, batch.protein_target, self.protein_mask, lam)

    def meter(self, device: torch.device) -> ScreenMeter:
        return ScreenMeter(len(self.data.groups), self.data.n_genes, self.protein_mask, device)

    def baseline(self, train: np.ndarray):
        """The mean-training-effect predictor: every cell gets the mean log2FC (and protein change) of training."""
        rna = self.data.target[train].mean(0)  # [G]
        prot = self.data.protein_target[train].mean(0) if self.data.protein is not None else None  # [P]

        def predict(batch: CellBatch) -> ModelOutput:
            n = len(batch)
            return ModelOutput(
                rna=rna.to(batch.rna.device).expand(n, -1),
                protein=None if prot is None else prot.to(batch.rna.device).expand(n, -1),
            )

        return predict


class PairTask:
    """CDT v1: predict beta at each enhancer-gene pair's target gene."""

    def __init__(self, data: PairData, huber_delta: float | None = 1.0):
        self.data = data
        self.huber_delta = huber_delta
        self.rna_emb, self.prot_emb = data.rna_emb, data.prot_emb

    def to(self, device: torch.device) -> PairTask:
        self.rna_emb, self.prot_emb = self.rna_emb.to(device), self.prot_emb.to(device)
        return self

    def forward(self, model: nn.Module, batch: PairBatch) -> ModelOutput:
        return model(batch.dna, self.rna_emb, self.prot_emb, batch.target_index)

    def loss(self, out: ModelOutput, batch: PairBatch, lam: float) -> tuple[Tensor, dict[str, Tensor]]:
        loss = target_huber_loss(out.rna, batch.target_index, batch.beta, self.huber_delta)
        return loss, {"loss": loss}

    def meter(self, device: torch.device) -> PairMeter:
        return PairMeter(device)

    def baseline(self, train: np.ndarray):
        """Mean training beta of the pair's target gene (the overall training mean for genes without pairs)."""
        per_gene = self.data.mean_beta_per_gene(train).float()  # [G]

        def predict(batch: PairBatch) -> ModelOutput:
            return ModelOutput(rna=per_gene.to(batch.beta.device).expand(len(batch), -1))

        return predict
