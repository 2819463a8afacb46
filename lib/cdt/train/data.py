"""Training data held in memory as tensors, batched with each distinct DNA locus once.

`ScreenData` (CDT-II/III) holds a processed screen: cells x genes inputs and targets, proteins, and one
float32 tensor with the DNA embeddings of the perturbed loci. Its input protocol decides which RNA and protein
values the model is given for a cell (the target is always the cell's own):

- ``cell``      the cell's own values (the papers' set-up; the target is then an affine map of the input);
- ``control``   the values of an NTC cell drawn at random (seeded: a fresh draw every training epoch, one fixed
                draw for evaluation), so that only the DNA says which perturbation happened;
- ``ntc-mean``  the NTC mean profile for every cell. `PairData` (CDT v1) holds enhancer-gene pairs
with their enhancer windows and the fixed gene/protein embeddings. A `Samples` dataset yields sample
indices; the data object's `collate` gathers a batch from them (for screens: the batch's distinct loci plus a
per-cell `locus_index`, the input the models take).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import Dataset

from cdt.data.dnastore import DNAStore
from cdt.data.errors import ContractError
from cdt.data.screen import dense, read_screen, validate_screen
from cdt.pp.v1 import read_v1_embeddings
from cdt.train.config import INPUT_PROTOCOLS

V1_COLUMNS = ("enhancer_id", "target_gene", "target_index", "beta")


def split_roles(model: str, protocol: str) -> dict[str, tuple[str, ...]]:
    """Which data splits train the model, drive selection (LR schedule, early stopping, best checkpoint), and test.

    Screens: `paper` = the authors' practice, the held-out ('test') genes select and are reported, and the
    'val' genes join training; `clean` = 'val' genes select, 'test' genes are only evaluated at the end.
    CDT v1: the authors selected and reported on 'val' pairs and never used 'test'; `clean` reports 'test'.
    """
    if model == "cdt1":
        return {
            "train": ("train",),
            "select": ("val",),
            "test": ("test",),
            "report": ("val",) if protocol == "paper" else ("test",),
        }
    if protocol == "paper":
        return {"train": ("train", "val"), "select": ("test",), "test": ("test",), "report": ("test",)}
    return {"train": ("train",), "select": ("val",), "test": ("test",), "report": ("test",)}


@dataclass
class CellBatch:
    dna: Tensor  # [U, n_bins, dna_dim] the distinct loci of the batch
    locus_index: Tensor  # [B] long, row of `dna` for each cell
    rna: Tensor  # [B, G] ln(CPM+1) input
    target: Tensor  # [B, G] log2FC target
    group: Tensor  # [B] long, perturbation code (pseudo-bulk groups)
    protein: Tensor | None = None  # [B, P] protein input (DSB)
    protein_target: Tensor | None = None  # [B, P] protein change vs NTC

    def to(self, device: torch.device) -> CellBatch:
        return CellBatch(**{f.name: _to(getattr(self, f.name), device) for f in fields(self)})

    def __len__(self) -> int:
        return self.rna.shape[0]


@dataclass
class PairBatch:
    dna: Tensor  # [B, n_bins, dna_dim] enhancer-centred windows
    target_index: Tensor  # [B] long, target gene of each pair
    beta: Tensor  # [B] effect size
    group: Tensor  # [B] long, target gene (groups for the per-gene baseline)

    def to(self, device: torch.device) -> PairBatch:
        return PairBatch(**{f.name: _to(getattr(self, f.name), device) for f in fields(self)})

    def __len__(self) -> int:
        return self.beta.shape[0]


class Samples(Dataset):
    """The samples (cells or pairs) of some splits; yields sample indices for `collate`."""

    def __init__(self, indices: np.ndarray):
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> int:
        return int(self.indices[i])


class ScreenData:
    """A processed screen (cells of the chosen kinds) as tensors, with the loci's DNA in memory.

    `input_protocol` and `seed` choose the model inputs (module docstring); `rna` / `protein` stay the cells'
    own values, `input_rna` / `input_protein` are the tables `collate` reads inputs from.
    """

    def __init__(
        self,
        screen: str | os.PathLike,
        dna: str | os.PathLike,
        kinds: tuple[str, ...],
        proteins: bool = False,
        *,
        input_protocol: str = "cell",
        seed: int = 0,
    ):
        if input_protocol not in INPUT_PROTOCOLS:
            raise ValueError(f"input_protocol={input_protocol!r}; choose one of {', '.join(INPUT_PROTOCOLS)}")
        self.path = Path(screen)
        self.input_protocol, self.seed = input_protocol, seed
        with DNAStore(dna) as store:
            adata = read_screen(self.path, dna_store=store)
            if proteins:
                validate_screen(adata, self.path, require_proteins=True)
            kind = adata.obs["kind"].astype(str).to_numpy()
            keep = np.isin(kind, kinds)
            if not keep.any():
                raise ContractError(str(self.path), "obs['kind']", f"no cells of kinds {list(kinds)}")
            self._keep = keep  # [n_obs] rows of the file kept; control draws are made over every row
            if input_protocol == "control":
                ntc = adata[kind == "NTC"]
                if ntc.n_obs == 0:
                    raise ContractError(str(self.path), "obs['kind']", NO_NTC_CELLS)
                self._pool_rna = torch.from_numpy(dense(ntc.X, dtype=np.float32))  # [M, G]
                self._pool_protein = torch.from_numpy(_protein_values(ntc)) if proteins else None
            elif input_protocol == "ntc-mean":
                self._pool_rna = torch.from_numpy(np.asarray(adata.var["ntc_mean_expr"], np.float32))[None]  # [1, G]
                self._pool_protein = torch.from_numpy(ntc_mean_protein(adata))[None] if proteins else None
            adata = adata[keep]
            obs = adata.obs
            self.obs_names = obs.index.to_numpy(dtype=str)
            self.split = obs["split"].astype(str).to_numpy()
            self.genes = adata.var_names.to_numpy(dtype=str)
            self.rna = torch.from_numpy(dense(adata.X, dtype=np.float32))  # [N, G]
            self.target = torch.from_numpy(dense(adata.layers["log2fc"], dtype=np.float32))  # [N, G]
            codes, self.groups = pd.factorize(obs["perturbation"].astype(str), sort=True)
            self.group = torch.from_numpy(codes.astype(np.int64))  # [N]
            codes, self.loci = pd.factorize(obs["locus"].astype(str), sort=True)
            self.locus = torch.from_numpy(codes.astype(np.int64))  # [N]
            self.dna = torch.from_numpy(store.stack(list(self.loci)))  # [L, n_bins, dna_dim]
        self.protein = self.protein_target = self.expressed = None
        self.protein_names: np.ndarray | None = None
        if proteins:
            self.protein = torch.from_numpy(np.asarray(adata.obsm["protein"], dtype=np.float32))  # [N, P]
            self.protein_target = torch.from_numpy(np.asarray(adata.obsm["protein_target"], dtype=np.float32))
            self.expressed = torch.from_numpy(np.asarray(adata.uns["protein_expressed"], dtype=bool))  # [P]
            self.protein_names = np.asarray(adata.uns["protein_names"], dtype=str)
            if not self.expressed.any():
                raise ContractError(str(self.path), "uns['protein_expressed']", "no protein is marked expressed")
        if input_protocol == "cell":
            self.input_rna, self.input_protein = self.rna, self.protein
        else:
            self.input_rna, self.input_protein = self._pool_rna, self._pool_protein
        self._draws: dict[int | None, Tensor] = {}

    @property
    def n_genes(self) -> int:
        return self.rna.shape[1]

    @property
    def n_proteins(self) -> int:
        return 0 if self.protein is None else self.protein.shape[1]

    def __len__(self) -> int:
        return self.rna.shape[0]

    def indices(self, splits: tuple[str, ...]) -> np.ndarray:
        """Cells in any of `splits`, in file order."""
        return np.flatnonzero(np.isin(self.split, splits))

    def input_rows(self, idx: Tensor, epoch: int | None = None) -> Tensor:
        """[B] rows of `input_rna` / `input_protein` that cells `idx` get as input in training `epoch` (None:
        evaluation): the cells themselves (`cell`), their drawn NTC cells (`control`), the mean row (`ntc-mean`)."""
        if self.input_protocol == "cell":
            return idx
        if self.input_protocol == "ntc-mean":
            return torch.zeros_like(idx)
        if epoch not in self._draws:
            if len(self._draws) > 1:  # keep the evaluation draw and the current epoch's
                self._draws = {None: self._draws[None]} if None in self._draws else {}
            draw = control_draw(len(self._keep), len(self._pool_rna), self.seed, epoch)
            self._draws[epoch] = torch.from_numpy(draw[self._keep])
        return self._draws[epoch][idx]

    def collate(self, cells: list[int], epoch: int | None = None) -> CellBatch:
        """The batch of `cells`; `epoch` is the training epoch (fresh control draws), None in evaluation."""
        idx = torch.as_tensor(cells, dtype=torch.long)
        loci, locus_index = torch.unique(self.locus[idx], return_inverse=True)  # [U], [B]
        rows = self.input_rows(idx, epoch)
        prot = self.protein is not None
        return CellBatch(
            dna=self.dna[loci],
            locus_index=locus_index,
            rna=self.input_rna[rows],
            target=self.target[idx],
            group=self.group[idx],
            protein=self.input_protein[rows] if prot else None,
            protein_target=self.protein_target[idx] if prot else None,
        )


NO_NTC_CELLS = (
    "no NTC cells: the 'control' input protocol draws each cell's input from them "
    "(the authors' files summarise NTC cells as means; use 'ntc-mean')"
)


def control_draw(n_cells: int, n_ntc: int, seed: int, epoch: int | None = None) -> np.ndarray:
    """[n_cells] position (in [0, n_ntc)) of the NTC cell whose input each screen row gets under `control`.

    One stream per (seed, epoch): training epoch e draws afresh, `epoch=None` is the fixed evaluation draw.
    """
    stream = 0 if epoch is None else int(epoch) + 1
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), stream]))
    return rng.integers(n_ntc, size=n_cells).astype(np.int64)


def ntc_mean_protein(adata) -> np.ndarray:
    """[P] float32 NTC mean protein level: protein - protein_target in the rows with protein data."""
    diff = np.asarray(adata.obsm["protein"], np.float64) - np.asarray(adata.obsm["protein_target"], np.float64)
    if "has_protein" in adata.obs:
        diff = diff[adata.obs["has_protein"].to_numpy(dtype=bool)]
    return diff.mean(0).astype(np.float32)


def protocol_inputs(adata, input_protocol: str, *, seed: int = 0):
    """A copy of a screen whose inputs (`X`, `obsm['protein']`) are what the model sees under `input_protocol`.

    Targets and obs are unchanged; control cells come from the fixed evaluation draw, as in `ScreenData`, so the
    interpretation tools (predictions, attention, gradients) see the inputs a run was evaluated on. `cell`
    returns `adata` itself.
    """
    if input_protocol not in INPUT_PROTOCOLS:
        raise ValueError(f"input_protocol={input_protocol!r}; choose one of {', '.join(INPUT_PROTOCOLS)}")
    if input_protocol == "cell":
        return adata
    out = adata.copy()
    has_protein = "protein" in adata.obsm
    if input_protocol == "control":
        ntc = np.flatnonzero(adata.obs["kind"].astype(str).to_numpy() == "NTC")
        if len(ntc) == 0:
            raise ContractError(str(adata.uns.get("cdt", {}).get("source", "screen")), "obs['kind']", NO_NTC_CELLS)
        rows = ntc[control_draw(adata.n_obs, len(ntc), seed)]
        out.X = dense(adata.X, dtype=np.float32)[rows]
        if has_protein:
            out.obsm["protein"] = _protein_values(adata)[rows]
    else:
        out.X = np.broadcast_to(np.asarray(adata.var["ntc_mean_expr"], np.float32), adata.shape).copy()
        if has_protein:
            out.obsm["protein"] = np.broadcast_to(ntc_mean_protein(adata), adata.obsm["protein"].shape).copy()
    out.uns["input_protocol"] = input_protocol
    return out


IN_MEMORY_BYTES = 4 * 2**30
"""CDT v1 DNA windows up to this many bytes are read into memory once; beyond it (the authors' set at real size:
~5,300 windows of [896, 3072], 58 GB) each batch reads its own windows from the store (`StoreWindows`)."""


class StoreWindows:
    """The windows of a DNA store's loci `ids`, read when indexed: ``windows[idx]`` -> [len(idx), n_bins, dim]."""

    def __init__(self, path: str | os.PathLike, ids: list[str]):
        self.path, self.ids = Path(path), ids
        self._store: DNAStore | None = None  # opened at the first read, in the process that reads

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, idx) -> Tensor:
        idx = torch.as_tensor(idx, dtype=torch.long)
        rows, inverse = torch.unique(idx, return_inverse=True)  # each window read once per batch
        if self._store is None:
            self._store = DNAStore(self.path)
        return torch.from_numpy(self._store.stack([self.ids[i] for i in rows.tolist()]))[inverse]


class PairData:
    """CDT v1 enhancer-gene pairs: beta targets, enhancer DNA windows, fixed gene and protein embeddings."""

    def __init__(
        self,
        pairs: str | os.PathLike,
        dna: str | os.PathLike,
        embeddings: str | os.PathLike,
        split_column: str = "split",
    ):
        self.path = Path(pairs)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: pairs table does not exist")
        table = pd.read_csv(self.path)
        for col in (*V1_COLUMNS, split_column):
            if col not in table:
                raise ContractError(str(self.path), col, "missing column")
        beta = table["beta"].to_numpy(dtype=np.float32)
        if not np.isfinite(beta).all():
            raise ContractError(str(self.path), "beta", f"{int((~np.isfinite(beta)).sum())} non-finite values")
        genes, rna, prot = read_v1_embeddings(embeddings)
        self.rna_emb, self.prot_emb, self.genes = torch.from_numpy(rna), torch.from_numpy(prot), np.array(genes)
        target_index = table["target_index"].to_numpy(dtype=np.int64)
        n_genes = len(self.genes)
        if target_index.min() < 0 or target_index.max() >= n_genes:
            raise ContractError(str(self.path), "target_index", f"values outside [0, {n_genes}) of {embeddings}")
        mismatch = self.genes[target_index] != table["target_gene"].astype(str).to_numpy()
        if mismatch.any():
            i = int(np.flatnonzero(mismatch)[0])
            raise ContractError(
                str(self.path),
                "target_gene",
                f"row {i}: {table['target_gene'].iloc[i]!r} is not "
                f"gene {target_index[i]} ({self.genes[target_index[i]]!r}) of {embeddings}",
            )
        self.split = table[split_column].astype(str).to_numpy()
        self.pair_ids = (table["enhancer_id"].astype(str) + ":" + table["target_gene"].astype(str)).to_numpy()
        codes, enhancers = pd.factorize(table["enhancer_id"].astype(str), sort=True)
        with DNAStore(dna) as store:
            missing = sorted(set(enhancers) - set(store.loci_ids()))
            if missing:
                raise ContractError(
                    str(self.path),
                    "enhancer_id",
                    f"{len(missing)} enhancers not in DNA store {store.path}: {missing[:5]}",
                )
            n_bytes = len(enhancers) * store.n_bins * store.dim * 4
            if n_bytes <= IN_MEMORY_BYTES:
                self.dna = torch.from_numpy(store.stack(list(enhancers)))  # [E, n_bins, dna_dim]
            else:
                self.dna = StoreWindows(dna, list(enhancers))  # read per batch
        self.enhancer = torch.from_numpy(codes.astype(np.int64))  # [N]
        self.target_index = torch.from_numpy(target_index)  # [N]
        self.beta = torch.from_numpy(beta)  # [N]
        self.groups = self.genes

    @property
    def n_genes(self) -> int:
        return len(self.genes)

    def __len__(self) -> int:
        return len(self.beta)

    def indices(self, splits: tuple[str, ...]) -> np.ndarray:
        return np.flatnonzero(np.isin(self.split, splits))

    def mean_beta_per_gene(self, rows: np.ndarray) -> Tensor:
        """[G] float64 mean beta of each gene over the pairs `rows` (the overall mean there for genes without pairs)."""
        g, beta = self.target_index[rows], self.beta[rows].double()
        sums = torch.zeros(self.n_genes, dtype=torch.float64).index_add_(0, g, beta)
        counts = torch.zeros(self.n_genes, dtype=torch.float64).index_add_(0, g, torch.ones_like(beta))
        return torch.where(counts > 0, sums / counts.clamp(min=1), beta.mean())

    def collate(self, pairs: list[int]) -> PairBatch:
        idx = torch.as_tensor(pairs, dtype=torch.long)
        return PairBatch(
            dna=self.dna[self.enhancer[idx]],
            target_index=self.target_index[idx],
            beta=self.beta[idx],
            group=self.target_index[idx],
        )


def epoch_batches(
    n: int,
    batch_size: int,
    generator: torch.Generator | None = None,
    rank: int = 0,
    world: int = 1,
    drop_last: bool = False,
) -> list[list[int]]:
    """Batches of positions 0..n-1 for this process: shuffled by `generator` (if given) and sharded over ranks.

    With several processes the permutation is padded (by repeating its start) to a multiple of `world` so that
    every rank gets the same number of batches, and each takes every `world`-th sample; `batch_size` is the
    global batch, so each rank's batch is `batch_size // world`. Unshuffled (evaluation) order is not padded.
    """
    if generator is not None:
        order = torch.randperm(n, generator=generator).tolist()
        if world > 1 and n % world:
            order += order[: world - n % world]
    else:
        order = list(range(n))
    shard = order[rank::world]
    b = max(1, batch_size // world)
    batches = [shard[i : i + b] for i in range(0, len(shard), b)]
    if drop_last and batches and len(batches[-1]) < b:
        batches.pop()
    return batches


def _protein_values(adata) -> np.ndarray:
    return np.ascontiguousarray(adata.obsm["protein"], dtype=np.float32)


def _to(x, device: torch.device):
    return x.to(device, non_blocking=True) if isinstance(x, Tensor) else x
