"""DNA embedding store: one `[n_bins, dim]` array per locus, float16 on disk, float32 in memory.

Layout (HDF5): ``/loci/<locus_id>`` datasets with attrs ``chrom``, ``center``, ``strand``,
``bin_size``; root attrs ``n_bins``, ``dim``, ``model`` (what made the embeddings), ``genome`` (assembly).
Bin ``b`` of a locus covers ``[center + (b - n_bins // 2) * bin_size, +bin_size)`` — for Enformer
windows the TSS/SNP falls at the start of bin 448 of 896.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from cdt.data.errors import ContractError
from cdt.data.staging import check_complete


@dataclass(frozen=True)
class Locus:
    locus_id: str
    chrom: str
    center: int
    strand: str
    bin_size: int
    n_bins: int

    def bin_start(self, b: int | np.ndarray) -> int | np.ndarray:
        """Genomic start (0-based) of bin `b`."""
        return self.center + (np.asarray(b) - self.n_bins // 2) * self.bin_size

    def bin_intervals(self) -> pd.DataFrame:
        """All bins as a bioframe-style table (chrom, start, end, bin)."""
        b = np.arange(self.n_bins)
        start = self.bin_start(b)
        return pd.DataFrame({"chrom": self.chrom, "start": start, "end": start + self.bin_size, "bin": b})

    def bin_of(self, position: int) -> int | None:
        """Bin index containing a genomic position, or None when outside the window."""
        b = (position - self.center) // self.bin_size + self.n_bins // 2
        return int(b) if 0 <= b < self.n_bins else None


class DNAStore:
    """Lazy, locus-keyed reader of DNA embeddings (the file stays open for per-locus reads)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: DNA store does not exist")
        check_complete(self.path)
        try:
            self._h5 = h5py.File(self.path, "r")
        except OSError as exc:
            raise ContractError(str(self.path), "file", f"not a readable HDF5 file ({exc})") from exc
        if "loci" not in self._h5:
            self._h5.close()
            raise ContractError(str(self.path), "/loci", "missing group (not a DNA store)")
        try:
            self.n_bins = int(self._h5.attrs["n_bins"])
            self.dim = int(self._h5.attrs["dim"])
        except (KeyError, TypeError, ValueError):
            self._h5.close()
            raise ContractError(str(self.path), "attrs", "n_bins and dim must be stored as integers") from None
        source = self._h5.attrs.get("virtual_source")  # a store whose windows are rows of another file
        if source is not None and not Path(_s(source)).exists():
            self._h5.close()
            raise ContractError(
                str(self.path),
                "virtual_source",
                f"its windows are read from {_s(source)}, which does not exist (moved or deleted?); "
                "convert the files again",
            )
        self.model = str(self._h5.attrs.get("model", ""))
        self.genome = str(self._h5.attrs.get("genome", ""))  # assembly of the coordinates, e.g. "hg38" ("" = unknown)
        self._cache: dict[str, Locus] = {}

    def loci_ids(self) -> list[str]:
        return list(self._h5["loci"].keys())

    def __contains__(self, locus_id: str) -> bool:
        return locus_id in self._h5["loci"]

    def __len__(self) -> int:
        return len(self._h5["loci"])

    def __getitem__(self, locus_id: str) -> np.ndarray:
        """The locus embedding as float32 `[n_bins, dim]` (read from disk on each call; shape, type, finite checked)."""
        if locus_id not in self:
            raise KeyError(f"{self.path}: locus {locus_id!r} not in DNA store")
        field = f"/loci/{locus_id}"
        try:
            arr = self._h5["loci"][locus_id][()]
        except (OSError, TypeError) as exc:
            raise ContractError(str(self.path), field, f"unreadable ({exc})") from exc
        if arr.dtype.kind not in "fiu":
            raise ContractError(
                str(self.path), field, f"stored as {arr.dtype} ({arr.dtype.kind!r} kind), not as float embeddings"
            )
        if arr.shape != (self.n_bins, self.dim):
            raise ContractError(
                str(self.path),
                field,
                f"shape {list(arr.shape)}, but the store's [n_bins, dim] is {[self.n_bins, self.dim]}; "
                "re-embed this locus",
            )
        arr = arr.astype(np.float32)
        finite = np.isfinite(arr)
        if not finite.all():
            b, d = np.argwhere(~finite)[0].tolist()
            raise ContractError(
                str(self.path), field, f"{int((~finite).sum())} non-finite values (first at bin {b}, column {d})"
            )
        return arr

    def locus(self, locus_id: str) -> Locus:
        """Coordinates of a locus."""
        if locus_id not in self._cache:
            if locus_id not in self:
                raise KeyError(f"{self.path}: locus {locus_id!r} not in DNA store")
            ds = self._h5["loci"][locus_id]
            a = ds.attrs
            try:
                self._cache[locus_id] = Locus(
                    locus_id=locus_id,
                    chrom=_s(a["chrom"]),
                    center=int(a["center"]),
                    strand=_s(a["strand"]),
                    bin_size=int(a["bin_size"]),
                    n_bins=int(ds.shape[0]),
                )
            except (KeyError, TypeError, ValueError):
                raise ContractError(
                    str(self.path),
                    f"/loci/{locus_id}",
                    f"coordinates need attributes chrom, center, strand, bin_size (integers where numeric); has "
                    f"{sorted(a.keys())}",
                ) from None
        return self._cache[locus_id]

    def table(self) -> pd.DataFrame:
        """One row per locus: id, chrom, center, strand, bin_size, n_bins."""
        rows = [self.locus(k).__dict__ for k in self.loci_ids()]
        return pd.DataFrame(rows, columns=["locus_id", "chrom", "center", "strand", "bin_size", "n_bins"])

    def stack(self, locus_ids: list[str]) -> np.ndarray:
        """`[len(locus_ids), n_bins, dim]` float32 for a list of loci (each read once)."""
        return np.stack([self[k] for k in locus_ids]) if locus_ids else np.zeros((0, self.n_bins, self.dim), np.float32)

    def check_shape(self, n_bins: int, dim: int, preset: str) -> None:
        """Refuse a store whose windows do not have the preset's `[n_bins, dim]` (names this file, not the screen)."""
        if (self.n_bins, self.dim) != (n_bins, dim):
            raise ContractError(
                str(self.path),
                "n_bins/dim",
                f"DNA windows are [n_bins, dim] = {[self.n_bins, self.dim]} but preset {preset!r} expects "
                f"{[n_bins, dim]}; use the preset the data were made for",
            )

    def close(self) -> None:
        self._h5.close()

    def __enter__(self) -> DNAStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_dna_store(
    path: str | os.PathLike,
    embeddings: Mapping[str, np.ndarray],
    loci: pd.DataFrame,
    model: str,
    bin_size: int = 128,
    compression: str | None = "gzip",
    genome: str = "",
) -> Path:
    """Write a DNA store atomically.

    `loci` has columns ``locus_id, chrom, center, strand`` (and optionally ``bin_size``); every
    key of `embeddings` must have a row. Arrays must share one `[n_bins, dim]` shape.
    """
    path = Path(path)
    table = loci.set_index("locus_id")
    shapes = {np.shape(v) for v in embeddings.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"{path}: embeddings must share one [n_bins, dim] shape, got {sorted(shapes)}")
    missing = sorted(set(embeddings) - set(table.index))
    if missing:
        raise ValueError(f"{path}: loci table lacks coordinates for {missing[:5]}")
    n_bins, dim = next(iter(shapes))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with h5py.File(tmp, "w") as h5:
            h5.attrs.update(
                {"n_bins": n_bins, "dim": dim, "model": model, "genome": genome, "format": "cdt-dna-store-1"}
            )
            grp = h5.create_group("loci")
            for locus_id, arr in embeddings.items():
                arr = np.asarray(arr)  # read lazy arrays (e.g. rows of another HDF5 file) once
                if not np.isfinite(arr).all():
                    raise ValueError(f"{path}: locus {locus_id!r} embedding has non-finite values")
                if np.abs(arr).max(initial=0.0) > np.finfo(np.float16).max:
                    raise ValueError(f"{path}: locus {locus_id!r} embedding exceeds the float16 range of the store")
                ds = grp.create_dataset(locus_id, data=np.asarray(arr, dtype=np.float16), compression=compression)
                row = table.loc[locus_id]
                ds.attrs.update(
                    {
                        "chrom": str(row["chrom"]),
                        "center": int(row["center"]),
                        "strand": str(row["strand"]),
                        "bin_size": int(row["bin_size"]) if "bin_size" in row else int(bin_size),
                    }
                )
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_virtual_dna_store(
    path: str | os.PathLike,
    source: str | os.PathLike,
    rows: Mapping[str, int | None],
    loci: pd.DataFrame,
    *,
    dataset: str = "embeddings",
    model: str,
    bin_size: int = 128,
    genome: str = "",
    source_sha256: str = "",
) -> Path:
    """Write a DNA store whose loci are rows of `dataset` [n, n_bins, dim] in `source`, without copying them.

    Each ``/loci/<locus_id>`` is an HDF5 virtual dataset mapping ``dataset[row]`` of `source` (a 53 GB file of
    Enformer windows stays where it is); a row of None reads as zeros (the fill value). `loci` has columns
    ``locus_id, chrom, center, strand`` for every key of `rows`. The store records the source's absolute path
    (`DNAStore` refuses to open once it is gone, rather than read zeros) and `source_sha256`, so a store over
    changed source content is a different file. Written atomically, like `write_dna_store`.
    """
    path, source = Path(path), Path(source).resolve()
    table = loci.set_index("locus_id")
    missing = sorted(set(rows) - set(table.index))
    if missing:
        raise ValueError(f"{path}: loci table lacks coordinates for {missing[:5]}")
    with h5py.File(source, "r") as src:
        shape, dtype = src[dataset].shape, src[dataset].dtype
    if len(shape) != 3:
        raise ValueError(f"{source}: {dataset} has shape {shape}, expected [n, n_bins, dim]")
    bad = sorted(k for k, r in rows.items() if r is not None and not 0 <= r < shape[0])
    if bad:
        raise ValueError(f"{path}: rows of {bad[:5]} lie outside the {shape[0]} rows of {source}:{dataset}")
    n_bins, dim = shape[1:]
    vsource = h5py.VirtualSource(str(source), dataset, shape=shape, dtype=dtype)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with h5py.File(tmp, "w") as h5:
            h5.attrs.update(
                {
                    "n_bins": n_bins,
                    "dim": dim,
                    "model": model,
                    "genome": genome,
                    "format": "cdt-dna-store-1",
                    "virtual_source": str(source),
                    "virtual_source_sha256": source_sha256,
                }
            )
            grp = h5.create_group("loci")
            for locus_id, row in rows.items():
                layout = h5py.VirtualLayout(shape=(n_bins, dim), dtype=dtype)
                if row is not None:
                    layout[:, :] = vsource[int(row), :, :]
                ds = grp.create_virtual_dataset(locus_id, layout, fillvalue=0)
                locus = table.loc[locus_id]
                ds.attrs.update(
                    {
                        "chrom": str(locus["chrom"]),
                        "center": int(locus["center"]),
                        "strand": str(locus["strand"]),
                        "bin_size": int(bin_size),
                    }
                )
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _s(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)
