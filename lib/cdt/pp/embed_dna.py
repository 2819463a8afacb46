"""Enformer DNA embeddings per locus into the DNA store (`cdt embed-dna`; paper/METHODS.md, 'DNA embeddings').

For each locus (TSS, SNP or enhancer centre): the genome slice [start, start + window) with
start = max(0, center - window // 2) — 196,608 bp for Enformer — N-padded past the chromosome end
(and on the left when the clamp bites), one-hot A,C,G,T (anything else -> all zeros), then the trunk
output ``model(onehot, return_only_embeddings=True)`` -> [n_bins, dim] ([896, 3072] for Enformer).
Bin b covers [center + (b - n_bins // 2) * 128, +128): the locus sits at the start of bin 448.

The authors embedded the forward strand for every gene; ``reverse_complement=True`` embeds minus-strand
loci from their own strand instead (the bins are flipped back so bin order stays ascending in genome
coordinates). Off by default, as published.

Output is written locus by locus into ``<out>.partial`` and renamed to ``<out>`` when complete, so an
interrupted run resumes where it stopped (loci already in the partial file are skipped). Running again
with an existing complete store adds only the loci it lacks.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from cdt.data.errors import ContractError, WeightsUnavailableError

log = logging.getLogger(__name__)

ENFORMER_WINDOW = 196_608
ENFORMER_BIN = 128
ENFORMER_WEIGHTS = "EleutherAI/enformer-official-rough"
_LOCUS_ALIASES = {
    "gene_name": "locus_id",
    "gene": "locus_id",
    "name": "locus_id",
    "snp_id": "locus_id",
    "tss": "center",
    "position": "center",
    "pos": "center",
}
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
_CODE = np.full(256, -1, dtype=np.int64)
for _i, _b in enumerate("ACGT"):
    _CODE[ord(_b)] = _i


def read_loci(path: str | os.PathLike | pd.DataFrame) -> pd.DataFrame:
    """Loci table with columns locus_id, chrom, center[, strand]; the authors' TSS CSV
    (gene_name, chrom, tss, strand) is accepted as is."""
    source = "<loci>" if isinstance(path, pd.DataFrame) else str(path)
    if isinstance(path, pd.DataFrame):
        table = path.copy()
    else:
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: loci table does not exist")
        table = pd.read_csv(path, dtype={"chrom": str})
    table = table.rename(
        columns={k: v for k, v in _LOCUS_ALIASES.items() if k in table.columns and v not in table.columns}
    )
    for col in ("locus_id", "chrom", "center"):
        if col not in table.columns:
            raise ContractError(source, col, "missing column; expected locus_id, chrom, center[, strand]")
    if "strand" not in table.columns:
        table["strand"] = "+"
    table["locus_id"] = table["locus_id"].astype(str)
    bad = table["locus_id"].str.contains("/")
    if bad.any():
        raise ContractError(
            source, "locus_id", f"'/' is not allowed in locus ids: {table['locus_id'][bad].tolist()[:3]}"
        )
    dup = table["locus_id"][table["locus_id"].duplicated()]
    if len(dup):
        raise ContractError(source, "locus_id", f"duplicate locus ids, e.g. {dup.unique()[:3].tolist()}")
    center = pd.to_numeric(table["center"], errors="coerce")
    if center.isna().any() or (center < 0).any():
        raise ContractError(source, "center", "coordinates must be non-negative integers")
    table["center"] = center.astype(np.int64)
    table["strand"] = table["strand"].astype(str)
    if not table["strand"].isin(["+", "-"]).all():
        raise ContractError(source, "strand", "strand must be '+' or '-'")
    return table[["locus_id", "chrom", "center", "strand"]].reset_index(drop=True)


def one_hot(seq: str) -> np.ndarray:
    """[len, 4] float32 in A,C,G,T order; other characters (N) -> all-zero rows."""
    codes = _CODE[np.frombuffer(seq.upper().encode("ascii"), dtype=np.uint8)]
    out = np.zeros((len(seq), 4), dtype=np.float32)
    ok = codes >= 0
    out[np.flatnonzero(ok), codes[ok]] = 1.0
    return out


def resolve_chroms(fasta, loci: pd.DataFrame, source: str) -> pd.Series:
    """FASTA sequence name per locus (adds or strips 'chr' when needed); errors for loci off the genome."""
    names = set(fasta.keys())
    resolved = []
    for row in loci.itertuples():
        chrom = str(row.chrom)
        alt = chrom[3:] if chrom.startswith("chr") else f"chr{chrom}"
        name = chrom if chrom in names else alt if alt in names else None
        if name is None:
            raise ContractError(
                source,
                "chrom",
                f"locus {row.locus_id!r}: chromosome {chrom!r} is not in the FASTA (has {sorted(names)[:5]}...)",
            )
        length = len(fasta[name])
        if not 0 <= row.center < length:
            raise ContractError(
                source,
                "center",
                f"locus {row.locus_id!r}: {chrom}:{row.center} is outside the chromosome (length {length})",
            )
        resolved.append(name)
    return pd.Series(resolved, index=loci.index)


def fetch_window(fasta, chrom: str, center: int, window: int) -> str:
    """The `window`-bp sequence at [max(0, center - window // 2), +window), N-padded to full length."""
    start = center - window // 2
    lo, hi = max(0, start), min(len(fasta[chrom]), start + window)
    seq = str(fasta[chrom][lo:hi]) if hi > lo else ""
    return "N" * (lo - start) + seq + "N" * (start + window - hi)


def reverse_complement(seq: str) -> str:
    return seq.upper().translate(_COMPLEMENT)[::-1]


WEIGHT_FILES = (
    "model.safetensors",
    "pytorch_model.bin",
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
)
WEIGHTS_HINT = (
    "give --model DIR: a directory with config.json and model.safetensors (or pytorch_model.bin), as written by "
    f"save_pretrained or by `huggingface-cli download {ENFORMER_WEIGHTS} --local-dir DIR` on a machine with "
    "network; the Enformer code comes with the dna extra (pip install 'cdt[dna]')"
)


def load_enformer(name: str = "enformer") -> torch.nn.Module:
    """The pretrained Enformer: 'enformer' = EleutherAI/enformer-official-rough (Hugging Face cache or download),
    another Hub id, or a local from_pretrained directory.

    Loaded with `enformer_pytorch.from_pretrained`. The official weights were trained with TensorFlow's gamma
    positional features; a local directory with the official shape (1,536-wide, 11 layers) gets them too, so a
    copy of the official weights embeds exactly like the download. Anything that stops the loading (package
    missing, directory without weights, no network and no cache) raises `WeightsUnavailableError` saying how to
    provide the weights.
    """
    repo = ENFORMER_WEIGHTS if name == "enformer" else name
    local = Path(repo).expanduser()
    if local.exists() or repo.startswith((".", "/", "~")) or repo.count("/") != 1:
        if not local.is_dir():
            raise WeightsUnavailableError(f"{repo}: Enformer weights directory does not exist", WEIGHTS_HINT)
        absent = [f for f in ("config.json",) if not (local / f).is_file()]
        if not any((local / f).is_file() for f in WEIGHT_FILES):
            absent.append(" or ".join(WEIGHT_FILES[:2]))
        if absent:
            raise WeightsUnavailableError(
                f"{repo}: no {', '.join(absent)} in the Enformer weights directory", WEIGHTS_HINT
            )
    try:
        import enformer_pytorch
        from enformer_pytorch.modeling_enformer import Attention
    except ImportError as exc:
        raise WeightsUnavailableError(
            f"Enformer embeddings need the enformer-pytorch package ({exc})",
            "install the dna extra: pip install 'cdt[dna]' (pip install -e '.[dna]' in a checkout)",
        ) from exc
    try:
        model = enformer_pytorch.from_pretrained(str(local) if local.is_dir() else repo)
    except (OSError, ValueError) as exc:  # Hub errors (no network, unknown id, no cache) are OSError / ValueError
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise WeightsUnavailableError(f"cannot load the Enformer weights {repo!r}: {first}", WEIGHTS_HINT) from exc
    if local.is_dir() and (model.config.dim, model.config.depth) == (1536, 11):
        for module in model.modules():
            if isinstance(module, Attention):
                module.use_tf_gamma = True
    return model


def embed_dna(
    fasta: str | os.PathLike,
    loci: str | os.PathLike | pd.DataFrame,
    out: str | os.PathLike,
    model: torch.nn.Module | str = "enformer",
    window: int = ENFORMER_WINDOW,
    bin_size: int = ENFORMER_BIN,
    batch_size: int = 1,
    reverse_complement_minus: bool = False,
    genome: str = "",
    model_name: str | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> Path:
    """Embed every locus into the DNA store at `out` (resumable; see the module docstring).

    `model` is an Enformer-like module called as ``model(x [B, window, 4], return_only_embeddings=True)``
    -> [B, n_bins, dim], or a name for `load_enformer`. `genome` (e.g. 'hg38') is stored so that later
    steps can refuse coordinates from another build.
    """
    from pyfaidx import Fasta

    fasta_path, out = Path(fasta), Path(out)
    if not fasta_path.exists():
        raise FileNotFoundError(f"{fasta_path}: FASTA does not exist")
    if window % bin_size or window <= 0:
        raise ValueError(f"window {window} must be a positive multiple of bin_size {bin_size}")
    table = read_loci(loci)
    loci_src = "<loci>" if isinstance(loci, pd.DataFrame) else str(loci)
    genome_fa = Fasta(str(fasta_path), sequence_always_upper=True)
    table["fasta_chrom"] = resolve_chroms(genome_fa, table, loci_src)
    if isinstance(model, str):
        model_name = model_name or (ENFORMER_WEIGHTS if model == "enformer" else model)
        model = load_enformer(model)
    model_name = model_name or type(model).__name__
    model = model.to(device).eval()

    work = out.with_name(out.name + ".partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"model": model_name, "genome": genome, "window": window, "bin_size": bin_size, "format": "cdt-dna-store-1"}
    if out.exists() and not work.exists():  # extend a finished store: check it, then extend a copy of it
        with h5py.File(out, "r") as h5:
            _check_or_set_attrs(h5, meta, out)
        shutil.copyfile(out, work)  # the finished store stays in place until the extended one replaces it
    with h5py.File(work, "a") as h5:
        _check_or_set_attrs(h5, meta, work)
        grp = h5.require_group("loci")
        for key in [k for k in grp if "center" not in grp[k].attrs]:  # a write cut short: redo it
            del grp[key]
        todo = table[~table["locus_id"].isin(list(grp.keys()))]
        log.info("embedding %d loci (%d already in %s)", len(todo), len(table) - len(todo), work)
        bar = tqdm(total=len(todo), desc="embed-dna", unit="locus", disable=not progress)
        for lo in range(0, len(todo), batch_size):
            batch = todo.iloc[lo : lo + batch_size]
            flip = reverse_complement_minus & (batch["strand"] == "-").to_numpy()
            seqs = [fetch_window(genome_fa, r.fasta_chrom, r.center, window) for r in batch.itertuples()]
            seqs = [reverse_complement(s) if f else s for s, f in zip(seqs, flip, strict=True)]
            x = torch.from_numpy(np.stack([one_hot(s) for s in seqs])).to(device)  # [B, window, 4]
            with torch.no_grad():
                emb = model(x, return_only_embeddings=True).float().cpu().numpy()  # [B, n_bins, dim]
            _check_or_set_attrs(h5, {"n_bins": emb.shape[1], "dim": emb.shape[2]}, work)
            if emb.shape[1] * bin_size > window:
                raise ValueError(
                    f"model returns {emb.shape[1]} bins of {bin_size} bp, more than the {window}-bp window"
                )
            for row, arr, f in zip(batch.itertuples(), emb, flip, strict=True):
                _write_locus(grp, row, arr[::-1] if f else arr, bin_size, bool(f), work)
            h5.flush()
            bar.update(len(batch))
        bar.close()
    os.replace(work, out)
    log.info("DNA store with %d loci -> %s", len(table), out)
    return out


def _check_or_set_attrs(h5: h5py.File, meta: dict, path: Path) -> None:
    """Root attributes must agree with what an earlier (partial) run wrote; missing or empty ones are filled."""
    for key, value in meta.items():
        old = h5.attrs.get(key, "")
        old = old.decode() if isinstance(old, bytes) else str(old)
        if old:
            if old != str(value):
                raise ContractError(
                    str(path),
                    f"attrs[{key!r}]",
                    f"existing store has {old!r}, this run {str(value)!r}; write to a new --out",
                )
        elif h5.mode != "r":
            h5.attrs[key] = value


def _write_locus(grp: h5py.Group, row, arr: np.ndarray, bin_size: int, flipped: bool, path: Path) -> None:
    data = np.asarray(arr, dtype=np.float16)
    if not np.isfinite(data).all():
        raise ContractError(str(path), f"/loci/{row.locus_id}", "embedding has non-finite values (float16 overflow?)")
    ds = grp.create_dataset(row.locus_id, data=data, compression="gzip")
    # attrs last: a dataset without 'center' marks an interrupted write
    ds.attrs.update(
        {
            "chrom": str(row.chrom),
            "strand": str(row.strand),
            "bin_size": bin_size,
            "reverse_complement": flipped,
            "center": int(row.center),
        }
    )
