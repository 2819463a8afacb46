"""`cdt reproduce`: data -> trained models -> every notebook executed -> figures, tables, REPORT.md.

Notebooks get their inputs through a `Context` written to ``<out>/context.json``: where the
screen, DNA store, external tracks and trained runs are, the preset, seed and data source. The
``.py`` notebooks are the source: each run converts them with jupytext, so an edit to the ``.py``
is what gets executed.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, as_completed, wait
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
REAL_LABEL = "real (authors' files)"
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
# in a notebook kernel: plain lines on stdout (not one HTML box each, not the red stderr stream)
console = Console(stderr="ipykernel" not in sys.modules, force_jupyter=False, highlight=False)


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
    cdt3_checkpoint: str | None = None
    data_dir: str | None = None  # real data: the directory the files were read from
    inputs: list[dict] = field(default_factory=list)  # real data: name, size, sha256 of every file read


@dataclass
class Context:
    """What a notebook needs to know about this reproduction (saved as ``<out>/context.json``)."""

    data_source: str  # "synthetic" | "real" | "own"
    preset: str
    seed: int
    out_dir: str
    paths: DataPaths
    runs: dict[str, str] = field(default_factory=dict)  # model key -> run directory or published checkpoint
    weights: dict[str, str] = field(default_factory=dict)  # model key -> "published (<file>)" | "trained here (<run>)"
    skipped: dict[str, str] = field(default_factory=dict)  # model key -> why it is missing and how to get it

    @property
    def synthetic(self) -> bool:
        return self.data_source == "synthetic"

    @property
    def source_label(self) -> str:
        if self.synthetic:
            return f"synthetic ({self.preset}, seed {self.seed})"
        if self.data_source == "own":
            return f"own screen ({Path(self.paths.data_dir).name}, {self.preset})"
        return REAL_LABEL

    @property
    def figures_dir(self) -> Path:
        return Path(self.out_dir) / "figures"

    def show(self, fig, name: str, *, data: bool = True) -> None:
        """Save a figure as ``figures/<name>.png`` and ``.pdf`` (marked with its data source unless it shows no
        `data`, as a schematic) and display it."""
        from IPython.display import Image, display

        from cdt.pl import save_figure

        own = self.source_label if self.data_source == "own" else None
        png = save_figure(fig, name, self.figures_dir, synthetic=self.synthetic, data=data, mark=own)[0]
        display(Image(filename=str(png)))  # the saved file itself, mark included, not a second rendering

    def skip_note(self, key: str) -> str:
        """Markdown for a section that needs model `key` but has none here: the reason the reproduction gave (and
        how to get the model), or that this data source has no such model."""
        why = self.skipped.get(key, f"no {key} run on this data source")
        return f"**Skipped:** {why}."

    def table(self, df, name: str):
        """Save a table as ``tables/<name>.csv`` and display it."""
        from IPython.display import display

        from cdt.report import save_table

        save_table(df, name, self.out_dir)
        display(df)

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


# the authors' files, by the names they publish them under; "required" ones must be present
AUTHORS_FILES: dict[str, tuple[str, bool]] = {  # keyed by `read_authors_screen`'s argument names
    "effects_h5": ("morris_celllevel_effects_2361.h5", True),
    "enformer_h5": ("morris_28genes_enformer.h5", True),
    "snp_effects_h5": ("morris_snp_celllevel_effects_2361.h5", False),
    "snp_enformer_h5": ("morris_snp_enformer.h5", False),
    "adt_h5": ("morris_celllevel_effects_with_adt.h5", False),
}
PUBLISHED_WEIGHTS: dict[str, str] = {"cdt2": "cdt_morris_celllevel_best.pt", "cdt3": "cdt_2stage_vce_best.pt"}
CONVERTER_VERSION = 2  # bump when the conversion's output changes, so cached conversions are redone


def file_facts(path: Path, cache: dict[str, dict] | None = None) -> dict:
    """Name, size, modification time and SHA-256 of a file; the checksum is reused from `cache` if size and mtime agree."""
    st = path.stat()
    old = (cache or {}).get(str(path.resolve()))
    if old and old["size"] == st.st_size and old["mtime_ns"] == st.st_mtime_ns:
        return old
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return {"name": path.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest.hexdigest()}


def real_paths(data_dir: Path, processed_root: Path, seed: int = 0) -> DataPaths:
    """Convert the authors' files in `data_dir` (names in data/README.md) into the contract, once per content.

    The conversion goes to ``<processed_root>/real-<fingerprint>``, the fingerprint being the SHA-256 of the
    data files present (optional SNP / ADT files included): a changed or newly added file converts again.
    Checksums are recomputed only when a file's size or modification time changes. Conversions are written
    beside the target and renamed, so an interrupted run leaves nothing half-written. When all six CDT v1 files
    are there too, they are converted the same way into ``<processed_root>/real-v1-<fingerprint>`` (`_convert_v1`)
    and fill the ``v1_*`` paths; when only some are, CDT v1 is left out with a line naming the missing ones.
    """
    from cdt.data.authors import read_authors_screen
    from cdt.data.screen import write_screen

    d = Path(data_dir)
    missing = [name for name, required in AUTHORS_FILES.values() if required and not (d / name).exists()]
    if missing:
        raise FileNotFoundError(f"{d}: missing {', '.join(missing)} (see data/README.md for the download list)")
    present = {key: d / name for key, (name, _) in AUTHORS_FILES.items() if (d / name).exists()}
    weights = {key: d / name for key, name in PUBLISHED_WEIGHTS.items() if (d / name).exists()}
    v1_files = real_v1_files(d)
    v1_read = [d / name for name in v1_files["present"]] if not v1_files["missing"] else []
    checksums = processed_root / "real-checksums.json"  # path -> size, mtime, sha256: files are hashed once
    cache = json.loads(checksums.read_text()) if checksums.exists() else {}
    read = [*present.values(), *weights.values(), *v1_read]
    facts = [file_facts(p, cache) for p in read]
    processed_root.mkdir(parents=True, exist_ok=True)
    found = {str(p.resolve()): f for p, f in zip(read, facts, strict=True)}
    checksums.write_text(json.dumps({**cache, **found}, indent=2))
    data_names = {p.name for p in present.values()}
    key = {
        "version": CONVERTER_VERSION,
        "seed": seed,
        "files": [{k: f[k] for k in ("name", "sha256")} for f in facts if f["name"] in data_names],
    }

    def build(tmp: Path) -> None:
        files = present
        if ("snp_effects_h5" in files) != ("snp_enformer_h5" in files):
            console.print("[yellow]only one of the two SNP files is present: SNP cells are left out[/yellow]")
            files = {k: v for k, v in files.items() if not k.startswith("snp_")}
        screen, store = read_authors_screen(dna_store_out=tmp / "dna.h5", seed=seed, **files)
        store.close()
        write_screen(screen, tmp / "screen_curated.h5ad")

    out = converted(
        processed_root,
        "real",
        key,
        build,
        announce=f"converting the authors' files in {d} ({', '.join(p.name for p in present.values())})",
        what="conversion",
    )
    screen_path, dna_path = out / "screen_curated.h5ad", out / "dna.h5"
    v1 = {}
    if v1_read:
        v1 = _convert_v1(d, processed_root, facts[-len(v1_read) :])
    elif v1_files["present"]:
        console.print(f"[yellow]CDT v1 left out: {_v1_missing_line(v1_files)}[/yellow]")
    hic = sorted([*d.glob("hic/*.mcool"), *d.glob("hic/*.cool")])
    return DataPaths(
        screen=str(screen_path),
        dna=str(dna_path),
        **v1,
        encode_dir=str(d / "encode") if (d / "encode").is_dir() else None,
        hic=str(hic[0]) if hic else None,
        genesets_dir=str(d / "genesets") if (d / "genesets").is_dir() else None,
        cdt2_checkpoint=str(weights["cdt2"]) if "cdt2" in weights else None,
        cdt3_checkpoint=str(weights["cdt3"]) if "cdt3" in weights else None,
        data_dir=str(d.resolve()),
        inputs=[{k: f[k] for k in ("name", "size", "sha256")} for f in facts],
    )


V1_CONVERTER_VERSION = 1  # bump when the CDT v1 conversion's output changes


def real_v1_files(data_dir: Path) -> dict[str, list[str]]:
    """The authors' CDT v1 files (`cdt.pp.v1.V1_AUTHORS_FILES`) present in and missing from `data_dir`."""
    from cdt.pp.v1 import V1_AUTHORS_FILES

    d = Path(data_dir)
    return {
        "present": [n for n in V1_AUTHORS_FILES if (d / n).exists()],
        "missing": [n for n in V1_AUTHORS_FILES if not (d / n).exists()],
    }


def _v1_missing_line(files: dict[str, list[str]]) -> str:
    """Why CDT v1 cannot run on a data directory: which of its files are missing."""
    if not files["present"]:
        return f"needs the authors' CDT v1 files ({', '.join(files['missing'])}; see data/README.md)"
    return (
        f"missing {', '.join(files['missing'])} beside {', '.join(files['present'])} "
        "(CDT v1 needs all six; see data/README.md)"
    )


def converted(processed_root: Path, prefix: str, key: dict, build, *, announce: str, what: str) -> Path:
    """``<processed_root>/<prefix>-<hash of key>``: made once by `build(directory)` in a partial directory that
    moves in whole, ``inputs.json`` (the key) written last to mark it finished; reused when that exists."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    out = processed_root / f"{prefix}-{digest}"
    if (out / "inputs.json").exists():
        console.print(f"[dim]reusing the {what} in {out} (same input files)[/dim]")
        return out
    console.print(announce)
    tmp = processed_root / f".{out.name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        build(tmp)
        (tmp / "inputs.json").write_text(json.dumps(key, indent=2))  # written last: marks a finished conversion
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out


def _convert_v1(d: Path, processed_root: Path, facts: list[dict]) -> dict[str, str]:
    """Convert the CDT v1 files once per content (`cdt.pp.v1.convert_authors_v1`); the DataPaths v1 fields.

    Keyed like the CDT-II conversion by the files' SHA-256, plus the window file's absolute path: the DNA store
    points at its rows instead of copying them, so a moved data directory converts again.
    """
    from cdt.pp.v1 import V1_DNA_WINDOWS, convert_authors_v1

    windows = next(f for f in facts if f["name"] == V1_DNA_WINDOWS)
    key = {
        "version": V1_CONVERTER_VERSION,
        "files": [{k: f[k] for k in ("name", "sha256")} for f in facts],
        "windows_at": str((d / V1_DNA_WINDOWS).resolve()),
    }
    out = converted(
        processed_root,
        "real-v1",
        key,
        lambda tmp: convert_authors_v1(d, tmp, source_sha256=windows["sha256"]),
        announce=f"converting the authors' CDT v1 files in {d}",
        what="CDT v1 conversion",
    )
    return {
        "v1_pairs": str(out / "v1" / "pairs.csv"),
        "v1_dna": str(out / "v1" / "dna_enhancers.h5"),
        "v1_embeddings": str(out / "v1" / "embeddings.h5"),
    }


def preset_for_data(dna_path: str, screen_path: str | None = None) -> str:
    """The preset whose model dimensions fit the data: DNA windows [n_bins, dim] and, given the screen, the gene
    count (an own screen has its own gene count: only the DNA windows must fit)."""
    import h5py

    from cdt.config import PRESETS
    from cdt.data.dnastore import DNAStore

    with DNAStore(dna_path) as store:
        n_bins, dim = store.n_bins, store.dim
    n_genes = None
    if screen_path is not None:
        with h5py.File(screen_path, "r") as h5:
            n_genes = len(h5["var"][h5["var"].attrs["_index"]])
    for name, preset in PRESETS.items():
        if (preset.n_bins, preset.dna_dim) == (n_bins, dim) and n_genes in (None, preset.n_genes):
            return name
    raise ValueError(
        f"{dna_path}: DNA windows [{n_bins}, {dim}]{'' if n_genes is None else f' with {n_genes} genes'} fit no preset "
        f"({', '.join(f'{k}: [{p.n_bins}, {p.dna_dim}], {p.n_genes} genes' for k, p in PRESETS.items())})"
    )


def own_paths(data_dir: Path) -> DataPaths:
    """Paths of a screen directory (`cdt prepare` + a DNA store; layout in data/README.md). ENCODE peaks, Hi-C
    and gene-set libraries are read from ``encode/``, ``hic/`` and ``genesets/`` inside it when present."""
    from cdt.train import DataFiles

    d = Path(data_dir)
    files = DataFiles.from_dir(d, "cdt2")  # names the missing screen / DNA store before any work
    full = Path(files.screen).with_name("screen_full.h5ad")
    hic = sorted([*d.glob("hic/*.mcool"), *d.glob("hic/*.cool")])
    read = [Path(files.screen), Path(files.dna), *([full] if full.exists() else [])]
    return DataPaths(
        screen=files.screen,
        dna=files.dna,
        screen_full=str(full) if full.exists() else None,
        encode_dir=str(d / "encode") if (d / "encode").is_dir() else None,
        hic=str(hic[0]) if hic else None,
        genesets_dir=str(d / "genesets") if (d / "genesets").is_dir() else None,
        data_dir=str(d.resolve()),
        inputs=[{k: f[k] for k in ("name", "size", "sha256")} for f in map(file_facts, read)],
    )


def own_models(paths: DataPaths, models: Sequence[str] | None) -> tuple[list[str], dict[str, str]]:
    """The runs an own screen can have among `models` (all when None), and why each other one is left out."""
    why = {"cdt1": "CDT v1: not run: it trains on enhancer-gene pairs, not on a screen"}
    if paths.screen_full is None:
        why["cdt2_full"] = "CDT-II full gene set: not run: no screen_full.h5ad in the screen directory"
    if not _has_proteins(paths.screen):
        why["cdt3"] = why["cdt3_single"] = "CDT-III: not run: the screen has no proteins (cdt prepare --adt)"
    wanted = models_needed(models)
    return [k for k in wanted if k not in why], {k: v for k, v in why.items() if k in wanted}


ON_REQUEST = ("08_leak_free",)
"""Notebooks that train runs of their own beyond the reproduction's budget: run only when named (``--only 08``)."""


def notebooks(selected: list[str] | None = None) -> list[Path]:
    """The `.py` notebook sources in order, optionally filtered by name prefix (e.g. ``02``); the `ON_REQUEST`
    notebooks only when selected."""
    found = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
    if selected:
        return [p for p in found if any(p.stem.startswith(s) for s in selected)]
    return [p for p in found if p.stem not in ON_REQUEST]


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
    # models are trained before the notebooks run, so a progress bar there only leaves a frozen 0% in the output
    quiet = {"TQDM_DISABLE": "1"}
    saved_env = {k: os.environ.get(k) for k in quiet}
    os.environ.update(quiet)  # the kernel inherits the environment it starts with
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
            extra_arguments=["--IPKernelApp.log_level=ERROR"],  # not the kernel's note on unencrypted local TCP
        )
    except PapermillExecutionError as exc:
        raise NotebookFailed(
            f"{source.name}: cell {exc.cell_index} (execution count {exc.exec_count}) raised "
            f"{exc.ename}: {exc.evalue}\n  executed notebook with the traceback: {executed}"
        ) from None
    finally:
        src_ipynb.unlink(missing_ok=True)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return executed


def _notebook_job(source: Path, position: str, out_dir: Path, parameters: dict) -> float:
    """Execute one notebook (announced when it starts); its wall time in seconds."""
    console.print(f"[bold]notebook {position}[/bold] {source.name}")
    t0 = time.perf_counter()
    execute_notebook(source, out_dir, parameters)
    return time.perf_counter() - t0


# model key -> (model name for the trainer, gene set, key of the run it starts from)
SYNTHETIC_RUNS: dict[str, tuple[str, str, str | None]] = {
    "cdt2": ("cdt2", "curated", None),
    "cdt2_full": ("cdt2", "full", None),  # the ablation's full gene set
    "cdt3": ("cdt3", "curated", "cdt2"),  # two-stage, nuclear stage from the trained CDT-II
    "cdt3_single": ("cdt3-single", "curated", "cdt2"),  # the single-stage ablation, from the same CDT-II weights
    "cdt1": ("cdt1", "v1", None),
}


def open_context(
    data_source: str = "synthetic",
    data_dir: str | os.PathLike | None = None,
    runs_dir: str | os.PathLike = REPO_ROOT / "runs",
    out_dir: str | os.PathLike = REPO_ROOT / "paper",
    preset: str | None = "mini",
    seed: int = 0,
    protocol: str = "paper",
    timings: dict[str, float] | None = None,
    train_missing: bool = False,
    *,
    models: Sequence[str] | None = None,
) -> Context:
    """Get the data and every model a notebook needs (cached); save the context when all models were asked for.

    A notebook opened on its own calls this too, so it runs without `cdt reproduce` having run;
    finished simulations and training runs are reused, unfinished runs resume. On real data the
    preset follows the data (None or any other name is replaced by the one that fits), published
    weights are used where they exist, and a model without them is trained only with `train_missing`
    (or reused if a finished run exists); otherwise it is listed in `Context.skipped`. On an own screen
    (`own_paths`) the preset follows the DNA windows and the models its files allow are trained (or reused).
    """
    if data_source not in ("synthetic", "real", "own"):
        raise ValueError(f"data_source must be 'synthetic', 'real' or 'own', not {data_source!r}")
    if data_source == "synthetic":
        preset = preset or "mini"
        get_preset(preset)  # fail early on a bad name
    timings = {} if timings is None else timings
    data_root = REPO_ROOT / "data" / "processed"
    t0 = time.perf_counter()
    if data_source == "synthetic":
        paths = get_synthetic_data(preset, seed, Path(data_dir) if data_dir else data_root)
    elif data_source == "own":
        if data_dir is None:
            raise ValueError("--data own needs --data-dir: the screen directory (see data/README.md)")
        paths = own_paths(Path(data_dir))
        fitted = preset_for_data(paths.dna)
        if preset not in (None, fitted):
            raise ValueError(f"{paths.dna}: the DNA windows fit preset {fitted!r}, not {preset!r}")
        preset = fitted
    else:
        if data_dir is None:
            raise ValueError("--data real needs --data-dir with the authors' files (see data/README.md)")
        paths = real_paths(Path(data_dir), data_root, seed)
        fitted = preset_for_data(paths.dna, paths.screen)
        if preset not in (None, fitted):
            console.print(f"[yellow]preset {preset!r} does not fit the real data; using {fitted!r}[/yellow]")
        preset = fitted
    timings["data"] = time.perf_counter() - t0
    whole = models is None  # a notebook that asks for some models leaves the reproduction's saved context alone
    ctx = Context(data_source=data_source, preset=preset, seed=seed, out_dir=str(out_dir), paths=paths)
    if data_source == "own":
        models, ctx.skipped = own_models(paths, models)
    if data_source in ("synthetic", "own"):
        ctx.runs = train_models(ctx, Path(runs_dir), protocol, timings, models)
        ctx.weights = {k: f"trained here ({Path(v).name})" for k, v in ctx.runs.items()}
    else:
        real_models(ctx, Path(runs_dir), protocol, timings, train_missing)
    if whole:
        ctx.save()
    return ctx


def open_notebook(
    name: str,
    data_source: str = "synthetic",
    data_dir: str | os.PathLike | None = None,
    runs_dir: str | os.PathLike = REPO_ROOT / "runs",
    out_dir: str | os.PathLike = REPO_ROOT / "paper",
    preset: str | None = "",
    seed: int = 0,
    protocol: str = "paper",
    *,
    models: Sequence[str] | None = None,
) -> tuple[Context, Numbers]:
    """A notebook's first call, with its parameters cell: the context (`open_context`: data and the trained
    `models` it reads, all when None), the `Numbers` its headline values go into (named after the notebook),
    and the figure style set. Models without weights are named with what it takes to get them.

    An empty synthetic `preset` means the preset of the last `cdt reproduce` into `out_dir`, or ``tiny`` (a
    few minutes from nothing) when there is none, so a notebook opened on its own finishes quickly.
    """
    from cdt.pl import set_style

    if data_source == "synthetic" and not preset:
        preset = last_preset(out_dir) or "tiny"
    ctx = open_context(data_source, data_dir or None, runs_dir, out_dir, preset or None, seed, protocol, models=models)
    set_style()
    for line in skipped_lines(ctx):
        print(line)
    return ctx, Numbers(name, ctx.out_dir, ctx.source_label, protocol)


def last_preset(out_dir: str | os.PathLike) -> str | None:
    """The synthetic preset of the reproduction saved in `out_dir`, if any."""
    path = Path(out_dir) / "context.json"
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    return saved["preset"] if saved.get("data_source") == "synthetic" else None


# rough training minutes of one model per preset on two quiet CPU cores (mini: `cdt train --model cdt2`, 2.5 min)
TRAIN_MINUTES = {"tiny": 0.3, "mini": 2.5, "paper": 24 * 60}


def models_needed(models: Sequence[str] | None) -> list[str]:
    """The synthetic runs to get for `models` (all when None), with the runs they start from, in training order."""
    unknown = sorted(set(models or ()) - set(SYNTHETIC_RUNS))
    if unknown:
        raise ValueError(f"unknown model key(s) {unknown}; known: {', '.join(SYNTHETIC_RUNS)}")
    wanted = set(SYNTHETIC_RUNS if models is None else models)
    for key in reversed(list(SYNTHETIC_RUNS)):
        if key in wanted and SYNTHETIC_RUNS[key][2] is not None:
            wanted.add(SYNTHETIC_RUNS[key][2])
    return [k for k in SYNTHETIC_RUNS if k in wanted]


def train_models(
    ctx: Context, runs_dir: Path, protocol: str, timings: dict[str, float], models: Sequence[str] | None = None
) -> dict[str, str]:
    """Train (or reuse) the synthetic-data `models` (all the notebooks read when None); returns key -> run directory.

    First says which runs will train and roughly how long that takes, so a reader knows what to expect.
    """
    from cdt.train import DataFiles, TrainConfig
    from cdt.train.jobs import job_pool, side_by_side

    p = ctx.paths
    jobs = []
    for key in models_needed(models):
        model, gene_set, _ = SYNTHETIC_RUNS[key]
        if model == "cdt1":
            files = DataFiles(dna=p.v1_dna, pairs=p.v1_pairs, embeddings=p.v1_embeddings)
            cfg = TrainConfig.for_model(model, ctx.preset, protocol=protocol, seed=ctx.seed)
        else:
            screen = p.screen_full if gene_set == "full" else p.screen
            files = DataFiles(dna=p.dna, screen=screen)
            cfg = TrainConfig.for_model(model, ctx.preset, protocol=protocol, seed=ctx.seed, gene_set=gene_set)
        jobs.append((key, cfg, files))
    finished = _finished_runs(jobs, runs_dir)
    todo = [key for key, *_ in jobs if key not in finished]
    workers, threads = side_by_side(len(todo), ctx.preset)
    if todo:
        minutes = TRAIN_MINUTES.get(ctx.preset, TRAIN_MINUTES["mini"]) * len(todo) / workers
        console.print(
            f"to train: {', '.join(todo)} (preset {ctx.preset}, roughly {minutes:.0f} min on two CPU cores)"
            + (f"; reused: {', '.join(sorted(finished))}" if finished else "")
        )
    if workers > 1:
        console.print(f"training {workers} models side by side, {threads} torch thread(s) each")
    runs: dict[str, str] = {}
    waiting = list(jobs)
    started_at: dict[str, float] = {}
    t_stage = time.perf_counter()
    with job_pool(workers, threads) as pool:
        running: dict = {}
        while waiting or running:
            for job in [j for j in waiting if SYNTHETIC_RUNS[j[0]][2] in (None, *runs)]:
                if len(running) == workers:
                    break  # announced and timed when it really starts
                waiting.remove(job)
                key, cfg, files = job
                model, gene_set, init_key = SYNTHETIC_RUNS[key]
                if init_key is not None:
                    cfg = cfg.with_(init_from=runs[init_key])
                verb = "reuse" if key in finished else "train"
                console.print(f"{verb} {key} ({model}, {gene_set} genes, protocol {protocol})")
                started_at[key] = time.perf_counter()
                running[pool.submit(_train_job, cfg, files, str(runs_dir))] = (key, verb)
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                key, verb = running.pop(future)
                runs[key] = future.result()
                timings[f"{verb} {key}"] = time.perf_counter() - started_at[key]
                if workers > 1 and verb == "train":
                    console.print(f"trained {key} in {timings[f'{verb} {key}']:.0f} s")
    if todo:
        timings["training"] = time.perf_counter() - t_stage
    return {key: runs[key] for key, *_ in jobs}  # in training order, however they finished


def _train_job(cfg, files, runs_dir: str) -> str:
    """Train (or reuse) one run; its directory. Progress bars only where one job runs (side by side they garble)."""
    from cdt.train import train

    in_process = multiprocessing.parent_process() is None
    return str(train(cfg, files, Path(runs_dir), progress=in_process).run_dir)


def _finished_runs(jobs: list, runs_dir: Path) -> set[str]:
    """Keys of `jobs` (key, config, files) whose run has finished, following each run's start from another."""
    from cdt.train.runs import run_name

    done: dict[str, Path] = {}
    for key, cfg, files in jobs:
        init_key = SYNTHETIC_RUNS[key][2]
        if init_key is not None:
            if init_key not in done:
                continue
            cfg = cfg.with_(init_from=str(done[init_key]))
        run_dir = runs_dir / run_name(cfg, files)[0]
        if (run_dir / "metrics.json").exists():
            done[key] = run_dir
    return set(done)


# real data: model key -> (what it is, trainer model name); the order is the order they are trained in
REAL_MODELS: dict[str, tuple[str, str]] = {
    "cdt2": ("CDT-II", "cdt2"),
    "cdt3": ("CDT-III two-stage", "cdt3"),
    "cdt3_single": ("CDT-III single-stage ablation", "cdt3-single"),
    "cdt2_full": ("CDT-II on the full 9,335-gene set (ablation)", "cdt2"),
    "cdt1": ("CDT v1", "cdt1"),
}
# seconds of training per sample at the paper's dimensions on 2 CPU cores: CDT-II/III one cell (90 s per batch of
# 64); CDT v1 one pair (41 s for a batch of 1, 83 s for 2, measured on a busy machine: 2,360 gene tokens at d 768)
PAPER_CPU_SECONDS_PER_SAMPLE = {"cdt1": 41.0, "default": 1.4}
GPU_ADVICE = "GPU advised"


def training_estimate(cfg, n_cells: int) -> str:
    """Upper bound on CPU training time: every phase to its epoch limit (early stopping usually ends sooner)."""
    p, paper = get_preset(cfg.preset), get_preset("paper")
    size = (p.n_bins * p.dna_dim + p.n_genes**2) / (paper.n_bins * paper.dna_dim + paper.n_genes**2)
    per_sample = PAPER_CPU_SECONDS_PER_SAMPLE.get(cfg.model, PAPER_CPU_SECONDS_PER_SAMPLE["default"])
    seconds = per_sample * size * n_cells * sum(ph.epochs for ph in cfg.phases)
    return f"up to {seconds / 3600:,.0f} h on this CPU" if seconds >= 3600 else f"up to {seconds / 60:,.0f} min"


def real_models(ctx: Context, runs_dir: Path, protocol: str, timings: dict[str, float], train_missing: bool) -> None:
    """Fill `ctx.runs`, `ctx.weights` and `ctx.skipped` for real data: published weights first, then finished
    runs, then (only with `train_missing`) training; what cannot be had is listed with how to get it."""
    from cdt.train import DataFiles, TrainConfig, train
    from cdt.train.runs import run_name

    p = ctx.paths
    has_proteins = _has_proteins(p.screen)
    published = {"cdt2": p.cdt2_checkpoint, "cdt3": p.cdt3_checkpoint}
    screen_files = DataFiles(dna=p.dna, screen=p.screen)
    n_cells = _n_training_cells(p.screen, protocol)
    for key, (label, model) in REAL_MODELS.items():
        if published.get(key):
            ctx.runs[key] = published[key]
            ctx.weights[key] = f"published ({Path(published[key]).name})"
            continue
        unavailable = {"cdt2_full": "the authors publish no 9,335-gene effects file to train it on"}.get(key)
        if key.startswith("cdt3") and not has_proteins:
            unavailable = "needs morris_celllevel_effects_with_adt.h5 (proteins)"
        if key == "cdt1":
            unavailable = _v1_unavailable(p, protocol)
        if unavailable:
            ctx.skipped[key] = f"{label}: not run: {unavailable}"
            continue
        cfg = TrainConfig.for_model(model, ctx.preset, protocol=protocol, seed=ctx.seed)
        if model.startswith("cdt3") and "cdt2" in ctx.runs:
            cfg = cfg.with_(init_from=ctx.runs["cdt2"])
        if key == "cdt1":  # enhancer-gene pairs: `cdt train --data` reads <conversion>/v1/
            files = DataFiles(dna=p.v1_dna, pairs=p.v1_pairs, embeddings=p.v1_embeddings)
            inputs, n_train = f"--data {Path(p.v1_pairs).parents[1]}", _n_training_pairs(p.v1_pairs, protocol)
        else:
            files, inputs, n_train = screen_files, f"--screen {p.screen} --dna {p.dna}", n_cells
        finished = runs_dir / run_name(cfg, files)[0] / "metrics.json"
        if not (train_missing or finished.exists()):
            init = f" --init-from {cfg.init_from}" if cfg.init_from else ""
            ctx.skipped[key] = (
                f"{label}: no published weights; needs a training run: `cdt train --model {model} --preset "
                f"{ctx.preset} {inputs}{init}` ({training_estimate(cfg, n_train)}; "
                f"{GPU_ADVICE}), or `cdt reproduce --train-missing`"
            )
            continue
        console.print(f"[bold]train[/bold] {key} ({model}, protocol {protocol}; {training_estimate(cfg, n_train)})")
        t0 = time.perf_counter()
        result = train(cfg, files, runs_dir)
        timings[f"train {key}"] = time.perf_counter() - t0
        ctx.runs[key] = str(result.run_dir)
        ctx.weights[key] = f"trained here ({result.run_dir.name})"


def skipped_lines(ctx: Context) -> list[str]:
    """One line per model the notebooks will do without."""
    return [f"skipped {line}" for line in ctx.skipped.values()]


def _v1_unavailable(paths: DataPaths, protocol: str) -> str | None:
    """Why CDT v1 cannot train on these real data (its files absent, or no test pairs for `protocol` clean)."""
    if paths.v1_pairs is None:
        return _v1_missing_line(real_v1_files(Path(paths.data_dir)))
    if protocol != "paper":
        return (
            f"the authors' files split the pairs into train and val only, and the {protocol!r} protocol reports on "
            "test pairs (use --protocol paper)"
        )
    return None


def _n_training_pairs(pairs_path: str, protocol: str) -> int:
    import pandas as pd

    from cdt.train import split_roles

    split = pd.read_csv(pairs_path, usecols=["split"])["split"]
    return int(split.isin(split_roles("cdt1", protocol)["train"]).sum())


def _n_training_cells(screen_path: str, protocol: str) -> int:
    import anndata as ad

    from cdt.train import split_roles

    screen = ad.read_h5ad(screen_path, backed="r")
    try:
        return int(screen.obs["split"].isin(split_roles("cdt2", protocol)["train"]).sum())
    finally:
        screen.file.close()


def _has_proteins(screen_path: str) -> bool:
    import h5py

    with h5py.File(screen_path, "r") as h5:
        return "obsm" in h5 and "protein" in h5["obsm"]


def reproduce(
    preset: str | None = None,
    data_source: str = "synthetic",
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    out_dir: str | os.PathLike = REPO_ROOT / "paper",
    runs_dir: str | os.PathLike = REPO_ROOT / "runs",
    only: list[str] | None = None,
    protocol: str = "paper",
    train_missing: bool = False,
) -> Path:
    """Data -> models -> notebooks -> REPORT.md. Returns the report path; a failing cell raises `NotebookFailed`.

    `preset` defaults to mini on synthetic data and follows the files on real data and on an own screen
    (`data_source` "own": a screen directory, see `own_paths`; its models are trained like the synthetic ones).
    On real data only `train_missing` lets models without published weights train (their time is estimated
    up front).
    """
    from cdt.pl._layout import saved_problems
    from cdt.report import write_report, write_site

    out_dir, runs_dir = Path(out_dir).resolve(), Path(runs_dir).resolve()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    ctx = open_context(data_source, data_dir, runs_dir, out_dir, preset, seed, protocol, timings, train_missing)
    for key, source in ctx.weights.items():
        console.print(f"{key}: {source}")
    for line in skipped_lines(ctx):
        console.print(f"[yellow]{line}[/yellow]")
    params = {
        "data_source": data_source,
        "data_dir": str(Path(data_dir).resolve()) if data_dir else "",
        "runs_dir": str(runs_dir),
        "out_dir": str(out_dir),
        "preset": ctx.preset,
        "seed": seed,
        "protocol": protocol,
    }
    from cdt.train.jobs import job_pool, side_by_side

    sources = notebooks(only)
    if not sources:
        raise FileNotFoundError(f"{NOTEBOOK_DIR}: no notebooks matching {only or 'NN_*.py'}")
    workers, threads = side_by_side(len(sources), ctx.preset)
    if workers > 1:
        console.print(f"running {workers} notebooks side by side, {threads} torch thread(s) each")
    t_stage = time.perf_counter()
    with job_pool(workers, threads) as pool:
        futures = {
            pool.submit(_notebook_job, nb, f"{i}/{len(sources)}", out_dir, params): nb
            for i, nb in enumerate(sources, 1)
        }
        try:
            seconds = {futures[f].stem: f.result() for f in as_completed(futures)}
        except BaseException:
            for future in futures:
                future.cancel()  # those not started; the running ones finish
            raise
    timings.update((nb.stem, seconds[nb.stem]) for nb in sources)
    timings["notebooks"] = time.perf_counter() - t_stage
    timings["total"] = time.perf_counter() - started
    header = {
        "data": ctx.source_label,
        "preset": ctx.preset,
        "seed": seed,
        "protocol": protocol,
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "figures": str(ctx.figures_dir),
        "runs": ", ".join(f"{k}: {Path(v).name}" for k, v in ctx.runs.items()),
    }
    if not ctx.synthetic:
        header["data directory"] = ctx.paths.data_dir
    report = write_report(
        out_dir, header, timings, weights=ctx.weights, skipped=skipped_lines(ctx), files=ctx.paths.inputs
    )
    site = write_site(out_dir)
    console.print(f"report: {report}; browsable: {site}")
    flagged = saved_problems(ctx.figures_dir)
    if flagged:
        console.print(f"{len(flagged)} figure(s) with layout problems (text over text, ...): listed in {report.name}")
    return report


def reproduce_seeds(
    seeds: Sequence[int],
    *,
    preset: str | None = None,
    out_dir: str | os.PathLike = REPO_ROOT / "paper",
    runs_dir: str | os.PathLike = REPO_ROOT / "runs",
    data_dir: str | os.PathLike | None = None,
    only: list[str] | None = None,
    protocol: str = "paper",
) -> Path:
    """`reproduce` on synthetic data once per seed (each a new simulated screen and training seed) into
    ``<out>/seed<N>``, then ``<out>/REPORT.md`` with every headline number's mean and range over the seeds."""
    from cdt.report import write_seed_report

    if len(set(seeds)) != len(seeds) or not seeds:
        raise ValueError(f"--seeds {','.join(map(str, seeds))}: give distinct seeds")
    out_dir = Path(out_dir).resolve()
    seed_dirs: dict[int, Path] = {}
    started = time.perf_counter()
    for i, seed in enumerate(seeds, 1):
        console.print(f"[bold]seed {seed}[/bold] ({i} of {len(seeds)})")
        seed_dirs[seed] = out_dir / f"seed{seed}"
        reproduce(
            preset=preset,
            seed=seed,
            out_dir=seed_dirs[seed],
            runs_dir=runs_dir,
            data_dir=data_dir,
            only=only,
            protocol=protocol,
        )
    header = {
        "data": "synthetic",
        "preset": last_preset(seed_dirs[seeds[0]]) or preset or "mini",
        "seeds": ", ".join(map(str, seeds)),
        "protocol": protocol,
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "wall time": f"{time.perf_counter() - started:.0f} s",
    }
    report = write_seed_report(out_dir, header, seed_dirs)
    console.print(f"seed spread: {report}")
    return report
