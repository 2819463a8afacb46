"""`cdt reproduce`: data -> trained models -> every notebook executed -> figures, tables, REPORT.md.

Notebooks get their inputs through a `Context` written to ``<out>/context.json``: where the
screen, DNA store, external tracks and trained runs are, the preset, seed and data source. The
``.py`` notebooks are the source: each run converts them with jupytext, so an edit to the ``.py``
is what gets executed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console

from cdt.config import get_preset
from cdt.report import Numbers


def find_repo_root() -> Path:
    """The checkout holding `notebooks/`: beside the package (editable install) or above the working directory."""
    cwd = Path.cwd().resolve()
    candidates = [Path(__file__).resolve().parents[2], cwd, *cwd.parents]
    for c in candidates:
        if (c / "notebooks").is_dir() and (c / "pyproject.toml").is_file():
            return c
    return cwd


REPO_ROOT = find_repo_root()
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
console = Console(stderr=True)


@dataclass
class DataPaths:
    """Every input a notebook may read; None where this data source has no such file."""

    screen: str
    dna: str
    screen_full: str | None = None
    v1_pairs: str | None = None
    v1_dna: str | None = None
    v1_embeddings: str | None = None
    encode_dir: str | None = None
    hic: str | None = None
    genesets_dir: str | None = None
    side_effects: str | None = None
    truth_dir: str | None = None
    cdt2_checkpoint: str | None = None


@dataclass
class Context:
    """What a notebook needs to know about this reproduction (saved as ``<out>/context.json``)."""

    data_source: str  # "synthetic" | "real"
    preset: str
    seed: int
    out_dir: str
    paths: DataPaths
    runs: dict[str, str] = field(default_factory=dict)  # model key -> run directory

    @property
    def synthetic(self) -> bool:
        return self.data_source == "synthetic"

    @property
    def source_label(self) -> str:
        if self.synthetic:
            return f"synthetic ({self.preset}, seed {self.seed})"
        return "real (authors' published files)"

    @property
    def figures_dir(self) -> Path:
        return Path(self.out_dir) / "figures"

    def save(self) -> Path:
        path = Path(self.out_dir) / "context.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def load(cls, out_dir: str | os.PathLike) -> Context:
        path = Path(out_dir) / "context.json"
        if not path.exists():
            raise FileNotFoundError(f"{path}: no reproduction context; run `cdt reproduce` first")
        raw = json.loads(path.read_text())
        raw["paths"] = DataPaths(**raw["paths"])
        return cls(**raw)


def synthetic_paths(data_dir: Path) -> DataPaths:
    """Paths of a `cdt simulate` output directory."""
    d = Path(data_dir)
    return DataPaths(
        screen=str(d / "processed/screen_curated.h5ad"),
        screen_full=str(d / "processed/screen_full.h5ad"),
        dna=str(d / "processed/dna.h5"),
        v1_pairs=str(d / "v1/pairs.csv"),
        v1_dna=str(d / "v1/dna_enhancers.h5"),
        v1_embeddings=str(d / "v1/embeddings.h5"),
        encode_dir=str(d / "external/encode"),
        hic=str(d / "external/hic/contacts.cool"),
        genesets_dir=str(d / "external/genesets"),
        side_effects=str(d / "external/side_effects.csv"),
        truth_dir=str(d / "truth"),
    )


def get_synthetic_data(preset: str, seed: int, data_root: Path) -> DataPaths:
    """Simulate once per (preset, seed); finished data simulated with the same preset values are reused."""
    from cdt.simulate import simulate

    out = data_root / f"synthetic-{preset}-seed{seed}"
    stamp = out / "preset.json"  # the preset the data were simulated with; a changed preset re-simulates
    current = json.dumps(get_preset(preset).to_dict(), sort_keys=True)
    if (out / "manifest.json").exists() and stamp.exists() and stamp.read_text() == current:
        console.print(f"[dim]reusing simulated data in {out}[/dim]")
        return synthetic_paths(out)
    # simulate beside the target and rename: an interrupted or concurrent run never leaves a half-written data set
    data_root.mkdir(parents=True, exist_ok=True)
    tmp = data_root / f".{out.name}.partial"  # a fixed name keeps the provenance inside the files reproducible
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        simulate(preset, seed, tmp)
        (tmp / "preset.json").write_text(current)
        if out.exists():  # stale (other preset) or half-written data
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return synthetic_paths(out)


def real_paths(data_dir: Path, processed_root: Path) -> DataPaths:
    """Convert the authors' files in `data_dir` (layout in data/README.md) into the contract once."""
    from cdt.data.authors import read_authors_screen
    from cdt.data.screen import write_screen

    d = Path(data_dir)
    required = ["morris_celllevel_effects_2361.h5", "morris_28genes_enformer.h5"]
    missing = [name for name in required if not (d / name).exists()]
    if missing:
        raise FileNotFoundError(f"{d}: missing {', '.join(missing)} (see data/README.md for the download list)")
    out = processed_root / "real"
    screen_path, dna_path = out / "screen_curated.h5ad", out / "dna.h5"
    if not screen_path.exists():
        optional = {
            "snp_effects_h5": d / "morris_snp_celllevel_effects_2361.h5",
            "snp_enformer_h5": d / "morris_snp_enformer.h5",
            "adt_h5": d / "morris_celllevel_effects_with_adt.h5",
        }
        kwargs = {k: v for k, v in optional.items() if v.exists()}
        screen, _ = read_authors_screen(d / required[0], d / required[1], dna_store_out=dna_path, **kwargs)
        write_screen(screen, screen_path)
    hic = sorted([*d.glob("hic/*.mcool"), *d.glob("hic/*.cool")])
    ckpt = d / "cdt_morris_celllevel_best.pt"
    return DataPaths(
        screen=str(screen_path),
        dna=str(dna_path),
        encode_dir=str(d / "encode") if (d / "encode").is_dir() else None,
        hic=str(hic[0]) if hic else None,
        genesets_dir=str(d / "genesets") if (d / "genesets").is_dir() else None,
        cdt2_checkpoint=str(ckpt) if ckpt.exists() else None,
    )


def notebooks(selected: list[str] | None = None) -> list[Path]:
    """The `.py` notebook sources in order, optionally filtered by name prefix (e.g. ``02``)."""
    found = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
    if selected:
        found = [p for p in found if any(p.stem.startswith(s) for s in selected)]
    return found


class NotebookFailed(RuntimeError):
    """A notebook cell raised: names the notebook and the cell."""


def execute_notebook(source: Path, out_dir: Path, parameters: dict) -> Path:
    """Convert a `.py` notebook with jupytext and execute it with papermill into ``<out>/notebooks``."""
    import jupytext
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    nb_dir = out_dir / "notebooks"
    nb_dir.mkdir(parents=True, exist_ok=True)
    src_ipynb = nb_dir / f".{source.stem}.source.ipynb"
    jupytext.write(jupytext.read(source), src_ipynb)
    executed = nb_dir / f"{source.stem}.ipynb"
    try:
        pm.execute_notebook(
            str(src_ipynb),
            str(executed),
            parameters=parameters,
            kernel_name="python3",
            language="python",
            cwd=str(source.parent),
            progress_bar=False,
            log_output=False,
        )
    except PapermillExecutionError as exc:
        raise NotebookFailed(
            f"{source.name}: cell {exc.cell_index} (execution count {exc.exec_count}) raised "
            f"{exc.ename}: {exc.evalue}\n  executed notebook with the traceback: {executed}"
        ) from None
    finally:
        src_ipynb.unlink(missing_ok=True)
    return executed


# model key -> (model name for the trainer, gene set, key of the run it starts from)
SYNTHETIC_RUNS: dict[str, tuple[str, str, str | None]] = {
    "cdt2": ("cdt2", "curated", None),
    "cdt2_full": ("cdt2", "full", None),  # the ablation's full gene set
    "cdt3": ("cdt3", "curated", "cdt2"),  # two-stage, nuclear stage from the trained CDT-II
    "cdt3_single": ("cdt3-single", "curated", None),  # the paper's single-stage ablation
    "cdt1": ("cdt1", "v1", None),
}


def open_context(
    data_source: str = "synthetic",
    data_dir: str | os.PathLike | None = None,
    runs_dir: str | os.PathLike = REPO_ROOT / "runs",
    out_dir: str | os.PathLike = REPO_ROOT / "paper",
    preset: str = "mini",
    seed: int = 0,
    protocol: str = "paper",
    timings: dict[str, float] | None = None,
) -> Context:
    """Get the data and every trained model a notebook needs (cached), and save the context.

    A notebook opened on its own calls this too, so it runs without `cdt reproduce` having run;
    finished simulations and training runs are reused, unfinished runs resume.
    """
    get_preset(preset)  # fail early on a bad name
    if data_source not in ("synthetic", "real"):
        raise ValueError(f"data_source must be 'synthetic' or 'real', not {data_source!r}")
    timings = {} if timings is None else timings
    data_root = REPO_ROOT / "data" / "processed"
    t0 = time.perf_counter()
    if data_source == "synthetic":
        paths = get_synthetic_data(preset, seed, Path(data_dir) if data_dir else data_root)
    else:
        if data_dir is None:
            raise ValueError("--data real needs --data-dir with the authors' files (see data/README.md)")
        paths = real_paths(Path(data_dir), data_root)
    timings["data"] = time.perf_counter() - t0
    ctx = Context(data_source=data_source, preset=preset, seed=seed, out_dir=str(out_dir), paths=paths)
    ctx.runs = train_models(ctx, Path(runs_dir), protocol, timings)
    ctx.save()
    return ctx


def open_notebook(
    name: str,
    data_source: str = "synthetic",
    data_dir: str | os.PathLike | None = None,
    runs_dir: str | os.PathLike = REPO_ROOT / "runs",
    out_dir: str | os.PathLike = REPO_ROOT / "paper",
    preset: str = "mini",
    seed: int = 0,
    protocol: str = "paper",
) -> tuple[Context, Numbers]:
    """A notebook's first call, with its parameters cell: the context (`open_context`: data and trained models),
    the `Numbers` its headline values go into (named after the notebook), and the figure style set."""
    from cdt.pl import set_style

    ctx = open_context(data_source, data_dir or None, runs_dir, out_dir, preset, seed, protocol)
    set_style()
    return ctx, Numbers(name, ctx.out_dir, ctx.source_label, protocol)


def train_models(ctx: Context, runs_dir: Path, protocol: str, timings: dict[str, float]) -> dict[str, str]:
    """Train (or reuse) every model the notebooks read; returns model key -> run directory or checkpoint."""
    from cdt.train import DataFiles, TrainConfig, train

    p = ctx.paths
    runs: dict[str, str] = {}
    if ctx.synthetic:
        plan = SYNTHETIC_RUNS
    else:
        plan = {"cdt2": SYNTHETIC_RUNS["cdt2"]}
        if _has_proteins(p.screen):
            plan["cdt3"] = SYNTHETIC_RUNS["cdt3"]
        if p.cdt2_checkpoint:  # the published CDT-II weights replace training it
            runs["cdt2"] = p.cdt2_checkpoint
    for key, (model, gene_set, init_key) in plan.items():
        if key in runs:
            continue
        if model == "cdt1":
            files = DataFiles(dna=p.v1_dna, pairs=p.v1_pairs, embeddings=p.v1_embeddings)
            cfg = TrainConfig.for_model(model, ctx.preset, protocol=protocol, seed=ctx.seed)
        else:
            screen = p.screen_full if gene_set == "full" else p.screen
            files = DataFiles(dna=p.dna, screen=screen)
            cfg = TrainConfig.for_model(model, ctx.preset, protocol=protocol, seed=ctx.seed, gene_set=gene_set)
        if init_key is not None:
            cfg = cfg.with_(init_from=runs[init_key])
        console.print(f"[bold]train[/bold] {key} ({model}, {gene_set}, protocol {protocol})")
        t0 = time.perf_counter()
        result = train(cfg, files, runs_dir)
        timings[f"train {key}"] = time.perf_counter() - t0
        runs[key] = str(result.run_dir)
    return runs


def _has_proteins(screen_path: str) -> bool:
    import h5py

    with h5py.File(screen_path, "r") as h5:
        return "obsm" in h5 and "protein" in h5["obsm"]


def reproduce(
    preset: str = "mini",
    data_source: str = "synthetic",
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    out_dir: str | os.PathLike = REPO_ROOT / "paper",
    runs_dir: str | os.PathLike = REPO_ROOT / "runs",
    only: list[str] | None = None,
    protocol: str = "paper",
) -> Path:
    """Data -> models -> notebooks -> REPORT.md. Returns the report path; a failing cell raises `NotebookFailed`."""
    from cdt.report import write_report

    out_dir, runs_dir = Path(out_dir).resolve(), Path(runs_dir).resolve()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    ctx = open_context(data_source, data_dir, runs_dir, out_dir, preset, seed, protocol, timings)
    params = {
        "data_source": data_source,
        "data_dir": str(data_dir) if data_dir else "",
        "runs_dir": str(runs_dir),
        "out_dir": str(out_dir),
        "preset": preset,
        "seed": seed,
        "protocol": protocol,
    }
    sources = notebooks(only)
    if not sources:
        raise FileNotFoundError(f"{NOTEBOOK_DIR}: no notebooks matching {only or 'NN_*.py'}")
    for i, nb in enumerate(sources, 1):
        console.print(f"[bold]notebook {i}/{len(sources)}[/bold] {nb.name}")
        t0 = time.perf_counter()
        execute_notebook(nb, out_dir, params)
        timings[nb.stem] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    header = {
        "data": ctx.source_label,
        "preset": preset,
        "seed": seed,
        "protocol": protocol,
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "figures": str(ctx.figures_dir),
        "runs": ", ".join(f"{k}: {Path(v).name}" for k, v in ctx.runs.items()),
    }
    report = write_report(out_dir, header, timings)
    console.print(f"report: {report}")
    return report
