"""Guide assignment: which cells carry exactly one perturbation (CDT-II Methods).

A cell's guide signal is its UMI count per *target* (summed over the guides of that target). The rule:

- ``unassigned``: no target reaches ``umi_threshold`` (the authors used 50);
- ``multiplet``:  two or more targets reach it, or one does and a second target is *competing*,
                  i.e. has UMI > 0 and UMI >= ``competing_fraction`` x the top target's UMI;
- otherwise the cell is assigned to its top target: ``NTC`` (non-targeting), ``SNP`` or ``TSS``.

SNP cells follow the original publication's assignments when a ``barcode, locus`` table is given
(those barcodes are SNP cells whatever their guide UMIs, as in CDT-II); a cell whose guide call is an
SNP locus but which is absent from that table is set aside as ``snp_not_listed``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from cdt.data.errors import ContractError, require_columns

GUIDE_COLUMNS = ("barcode", "guide", "target", "umi")
NTC_LABEL = "NTC"
SNP_PATTERN = r"^(SNP-|rs\d)"  # guide targets that name a variant locus rather than a gene
KEPT = ("TSS", "SNP", "NTC")
STATUSES = (*KEPT, "multiplet", "unassigned", "snp_not_listed")


def read_guide_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read the long guide UMI table (barcode, guide, target, umi) and check it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: guide UMI table does not exist")
    table = pd.read_csv(path, dtype={"barcode": str, "guide": str, "target": str})
    return check_guide_table(table, str(path))


def check_guide_table(table: pd.DataFrame, source: str = "<guide table>") -> pd.DataFrame:
    """Columns present, no missing ids, integer non-negative UMIs."""
    require_columns(table, GUIDE_COLUMNS, source, hint=f"expected {list(GUIDE_COLUMNS)}")
    for col in ("barcode", "guide", "target"):
        if table[col].isna().any():
            raise ContractError(source, col, f"{int(table[col].isna().sum())} empty values")
    umi = pd.to_numeric(table["umi"], errors="coerce")
    if umi.isna().any() or (umi < 0).any() or not np.allclose(umi, np.round(umi)):
        raise ContractError(source, "umi", "UMI counts must be non-negative integers")
    return table.assign(
        umi=umi.astype(np.int64), barcode=table["barcode"].astype(str), target=table["target"].astype(str)
    )


def read_snp_assignments(path: str | os.PathLike) -> pd.Series:
    """Read the given SNP assignments (barcode, locus) as a barcode -> locus Series."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: SNP assignment table does not exist")
    table = pd.read_csv(path, dtype=str)
    return check_snp_assignments(table, str(path))


def check_snp_assignments(table: pd.DataFrame, source: str = "<SNP assignments>") -> pd.Series:
    for col in ("barcode", "locus"):
        if col not in table.columns:
            raise ContractError(source, col, "missing column; expected barcode, locus")
        if table[col].isna().any():
            raise ContractError(source, col, f"{int(table[col].isna().sum())} empty values")
    dup = table["barcode"][table["barcode"].duplicated()]
    if len(dup):
        raise ContractError(
            source, "barcode", f"{dup.nunique()} barcodes assigned more than once, e.g. {dup.unique()[:3].tolist()}"
        )
    return pd.Series(
        table["locus"].to_numpy(str), index=pd.Index(table["barcode"].astype(str), name="barcode"), name="locus"
    )


def assign_guides(
    guides: pd.DataFrame,
    barcodes: pd.Index | list[str],
    umi_threshold: int = 50,
    competing_fraction: float = 0.2,
    snp_assignments: pd.Series | None = None,
    ntc_label: str = NTC_LABEL,
    snp_pattern: str = SNP_PATTERN,
    source: str = "<guide table>",
) -> pd.DataFrame:
    """Assign every cell of the count matrix (rule in the module docstring).

    Returns one row per barcode (in `barcodes` order) with ``status`` (one of `STATUSES`),
    ``perturbation`` (target symbol, SNP locus or NTC; empty when not kept), ``kind`` (TSS/SNP/NTC
    or empty), ``locus`` (DNA-store key: the gene symbol or SNP locus; empty for NTC), ``umi_top`` and
    ``umi_second`` (the two largest per-target UMI counts).
    """
    if umi_threshold < 1:
        raise ValueError(f"umi_threshold must be >= 1, got {umi_threshold}")
    if not 0.0 <= competing_fraction <= 1.0:
        raise ValueError(f"competing_fraction must be in [0, 1], got {competing_fraction}")
    guides = check_guide_table(guides, source)
    barcodes = pd.Index([str(b) for b in barcodes], name="barcode")
    unknown = pd.Index(guides["barcode"].unique()).difference(barcodes)
    if len(unknown):
        raise ContractError(
            source,
            "barcode",
            f"{len(unknown)} barcodes are not cells of the count matrix, "
            f"e.g. {unknown[:3].tolist()} (barcode formats differ? e.g. '-1' suffix)",
        )
    given = pd.Series(dtype=str) if snp_assignments is None else snp_assignments
    unknown = given.index.difference(barcodes)
    if len(unknown):
        raise ContractError(
            "SNP assignments",
            "barcode",
            f"{len(unknown)} barcodes are not cells of the count matrix, e.g. {unknown[:3].tolist()}",
        )

    # per cell and target: summed UMI, ranked                                     [n_pairs]
    per = guides[guides["umi"] > 0].groupby(["barcode", "target"], sort=False)["umi"].sum().reset_index()
    per = per.sort_values(["barcode", "umi", "target"], ascending=[True, False, True], kind="stable")
    rank = per.groupby("barcode").cumcount()
    top = per[rank == 0].set_index("barcode")
    second = per[rank == 1].set_index("barcode")["umi"]
    n_high = per[per["umi"] >= umi_threshold].groupby("barcode").size()

    out = pd.DataFrame(index=barcodes)
    out["umi_top"] = top["umi"].reindex(barcodes).fillna(0).astype(np.int64)
    out["umi_second"] = second.reindex(barcodes).fillna(0).astype(np.int64)
    target = top["target"].reindex(barcodes).fillna("").astype(str)
    n_high = n_high.reindex(barcodes).fillna(0).to_numpy()
    competing = (out["umi_second"] > 0) & (out["umi_second"] >= competing_fraction * out["umi_top"])

    is_snp = target.isin(set(given)) | target.str.match(snp_pattern)
    kind = np.where(target == ntc_label, "NTC", np.where(is_snp, "SNP", "TSS"))
    status = np.where(n_high == 0, "unassigned", np.where((n_high > 1) | competing.to_numpy(), "multiplet", kind))
    if snp_assignments is not None:
        status = np.where(status == "SNP", "snp_not_listed", status)  # SNP cells come from the given table
    out["status"] = status
    out["perturbation"] = np.where(np.isin(status, KEPT), target, "")
    # given SNP assignments take precedence over the guide call
    in_given = barcodes.isin(given.index)
    out.loc[in_given, "status"] = "SNP"
    out.loc[in_given, "perturbation"] = given.reindex(barcodes[in_given]).to_numpy(str)
    out["kind"] = np.where(np.isin(out["status"], KEPT), out["status"], "")
    out["locus"] = np.where(out["kind"].isin(["TSS", "SNP"]), out["perturbation"], "")
    return out[["status", "perturbation", "kind", "locus", "umi_top", "umi_second"]]


def qc_table(assignment: pd.DataFrame) -> pd.DataFrame:
    """Cell counts per assignment status plus the kept total (a small table for the user and logs)."""
    counts = assignment["status"].value_counts().reindex(list(STATUSES), fill_value=0)
    kept = int(counts[list(KEPT)].sum())
    rows = [("kept", kept), *((s, int(counts[s])) for s in STATUSES), ("total", len(assignment))]
    table = pd.DataFrame(rows, columns=["status", "n_cells"])
    table["fraction"] = table["n_cells"] / max(len(assignment), 1)
    return table
