"""The `cdt` command line. Each command is a thin shell over a library function."""

from __future__ import annotations

import os
from pathlib import Path

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from cdt.config import HELD_OUT_GENES, PRESETS
from cdt.data.errors import CDTError

DEBUG_VARIABLE = "CDT_DEBUG"
MESSAGE_LINES = 2  # lines of an error message printed (the traceback is there with --debug)


class Commands(TyperGroup):
    """The command group: the project's errors and the readers' OSError/ValueError become a short message, exit 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (CDTError, OSError, ValueError) as exc:
            if ctx.meta.get("cdt_debug") or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"):
                raise
            err = Console(stderr=True, highlight=False, soft_wrap=True)
            lines = [line for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
            err.print(f"[red]error[/red]: {escape(lines[0])}")
            for line in lines[1:MESSAGE_LINES]:
                err.print(escape(line))
            err.print(f"[dim](run with --debug or {DEBUG_VARIABLE}=1 for the full traceback)[/dim]")
            ctx.exit(1)


app = typer.Typer(cls=Commands, help="Central Dogma Transformer toolkit.", no_args_is_help=True, add_completion=False)
console = Console()


def _preset_name(name: str) -> str:
    """A usage error (exit 2) listing the valid presets, before any work."""
    if name is not None and name not in PRESETS:
        raise typer.BadParameter(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return name


@app.callback()
def main(
    ctx: typer.Context,
    debug: bool = typer.Option(
        False, "--debug", help=f"Show the full traceback of an error (or set {DEBUG_VARIABLE}=1)."
    ),
) -> None:
    """Simulate or prepare screens, train CDT models, and rebuild the papers' figures."""
    ctx.meta["cdt_debug"] = debug


@app.command()
def presets() -> None:
    """Show the presets (paper = published dimensions, mini = default, tiny = tests)."""
    table = Table("field", *PRESETS)
    for field in next(iter(PRESETS.values())).to_dict():
        table.add_row(field, *(str(p.to_dict()[field]) for p in PRESETS.values()))
    console.print(table)


@app.command()
def simulate(
    preset: str = typer.Option(
        "mini", callback=_preset_name, help="Preset: tiny (tests), mini (default), paper (published sizes)."
    ),
    seed: int = typer.Option(0, help="Random seed; the same seed gives the same files."),
    out: Path = typer.Option(..., help="Output directory (raw/, processed/, external/, truth/, v1/, manifest.json)."),
) -> None:
    """Write a simulated K562-like CRISPRi screen with its ground truth, in the real file formats."""
    from cdt.simulate import simulate as run

    manifest = run(preset, seed, out)
    s = manifest["summary"]
    table = Table("statistic", "simulated", "published", title=f"simulated screen ({preset}, seed {seed}) -> {out}")
    lfc, snp, nz, cells = s["log2fc_tss"], s["log2fc_snp"], s["nonzero_per_cell"], s["cells"]
    rows = [
        ("cells TSS / SNP / NTC", f"{cells['TSS']} / {cells['SNP']} / {cells['NTC']}", "8,250 / 7,407 / 2,078"),
        (
            "raw barcodes (multiplets, unassigned)",
            f"{cells['raw_barcodes']} ({cells['multiplet']}, {cells['unassigned']})",
            "60,505",
        ),
        (
            "cells per TSS target (mean, min-max)",
            f"{s['cells_per_target']['mean']} ({s['cells_per_target']['min']}-{s['cells_per_target']['max']})",
            "305.6 (12-946)",
        ),
        ("genes curated / full", f"{s['genes']['curated']} / {s['genes']['full']}", "2,361 / 9,335"),
        (
            "log2FC TSS mean / SD",
            f"{lfc['mean']:.4f} / {lfc['sd']:.4f}",
            f"{lfc['published_mean']} / {lfc['published_sd']}",
        ),
        (
            "log2FC SNP mean / SD",
            f"{snp['mean']:.4f} / {snp['sd']:.4f}",
            f"{snp['published_mean']} / {snp['published_sd']}",
        ),
        ("non-zero genes per cell (fraction)", f"{nz['mean']} ({nz['fraction']})", f"587 ({nz['published_fraction']})"),
        ("GFI1B targets vs rest, AUROC of |mean log2FC|", str(s["gfi1b_target_auroc"]), "-"),
        (
            "CD52: detectable proteins / expressed",
            f"{s['proteins']['cd52']['n_detectable']} / {s['proteins']['cd52']['n_expressed']}",
            "29 / 65",
        ),
        (
            "CD52: mRNA-protein opposite / both measured",
            f"{s['proteins']['cd52']['n_opposite']} / {s['proteins']['cd52']['n_both_levels']}",
            "13 / 16",
        ),
        (
            "mean-effect baseline r, curated / full",
            f"{s['ablation_mean_effect_r']['curated']} / {s['ablation_mean_effect_r']['full']}",
            "-",
        ),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(
        f"{len(manifest['files'])} files in {manifest['seconds']['total']:.1f} s; manifest: {out / 'manifest.json'}"
    )


@app.command()
def models(
    preset: str = typer.Option(
        "paper", callback=_preset_name, help="Preset whose dimensions to use (tiny, mini, paper)."
    ),
    figures: Path = typer.Option(None, help="Also write each model's architecture schematic (PNG) to this directory."),
) -> None:
    """Each model's modules, shapes and parameter counts (built on the meta device: no memory used)."""
    from cdt.config import get_preset
    from cdt.models.summary import build_models, module_summary, shape_str
    from cdt.pl.schematic import draw_schematic

    for name, model in build_models(get_preset(preset)).items():
        rows = module_summary(model)
        table = Table(
            "module",
            "kind",
            "input",
            "output",
            "parameters",
            title=f"{name} ({preset}): {sum(r.n_params for r in rows):,} parameters",
        )
        for r in rows:
            table.add_row(
                r.name, r.kind, " ; ".join(shape_str(s) for s in r.inputs), shape_str(r.output), f"{r.n_params:,}"
            )
        console.print(table)
        if figures is not None:
            figures.mkdir(parents=True, exist_ok=True)
            path = figures / f"architecture_{name.split(' (')[0].replace(' ', '_')}_{preset}.png"
            draw_schematic(model, title=f"{name} ({preset})").savefig(path, dpi=200)
            console.print(f"wrote {path}")


@app.command()
def prepare(
    counts: Path = typer.Option(..., help="Raw RNA counts: 10x .h5, 10x mtx directory or .h5ad."),
    guides: Path = typer.Option(..., help="Guide UMI table (CSV: barcode, guide, target, umi; NTC target 'NTC')."),
    out: Path = typer.Option(..., help="Output directory: screen_curated.h5ad, screen_full.h5ad, qc.csv."),
    snp_assignments: Path = typer.Option(None, help="Given SNP assignments (CSV: barcode, locus)."),
    second_screen: Path = typer.Option(None, help="Second screen's detection table (CSV: gene, detection_rate)."),
    adt: Path = typer.Option(None, help="Raw ADT counts (.h5ad with obs['is_cell'], var['isotype']; or 10x .h5)."),
    held_out: str = typer.Option(",".join(HELD_OUT_GENES), help="Held-out (test) target genes, comma-separated."),
    val_genes: str = typer.Option("", help="Validation target genes, comma-separated (optional)."),
    umi_threshold: int = typer.Option(50, help="Guide UMI a target needs for a cell to be assigned."),
    competing_fraction: float = typer.Option(0.2, help="A second target with UMI >= this x the top UMI = multiplet."),
    min_detection: float = typer.Option(0.1, help="Curated genes: detection rate needed in both screens."),
    full_min_detection: float = typer.Option(0.1, help="Full gene set: detection rate needed in this screen."),
    forced_genes: str = typer.Option("GFI1B", help="Genes always in the curated set, comma-separated."),
    protein_method: str = typer.Option("dsb", help="'dsb' (muon, needs empty droplets) or 'isotype_z' (authors')."),
    seed: int = typer.Option(0, help="Seed (DSB mixture models)."),
    cpm_scale: float = typer.Option(1e6, help="Counts per this many library counts (1e6 = CPM)."),
) -> None:
    """Raw CRISPRi screen -> processed screens (curated + full gene sets) in the screen contract."""
    from cdt.data.staging import staged_output
    from cdt.pp import prepare as run

    def names(s: str) -> list[str]:
        return [g.strip() for g in s.split(",") if g.strip()]

    with staged_output(out) as stage:  # the files replace earlier ones only once all of them are made
        res = run(
            counts,
            guides,
            stage,
            snp_assignments=snp_assignments,
            second_screen=second_screen,
            adt=adt,
            held_out=names(held_out),
            val_genes=names(val_genes),
            umi_threshold=umi_threshold,
            competing_fraction=competing_fraction,
            min_detection=min_detection,
            full_min_detection=full_min_detection,
            forced_genes=names(forced_genes),
            protein_method=protein_method,
            seed=seed,
            cpm_scale=cpm_scale,
        )
    table = Table("status", "cells", "fraction", title="guide assignment")
    for row in res.qc.itertuples():
        table.add_row(row.status, str(row.n_cells), f"{row.fraction:.3f}")
    console.print(table)
    console.print(f"wrote {out / res.curated.name}, {out / res.full.name}, {out / res.qc_path.name}")


@app.command("embed-dna")
def embed_dna(
    fasta: Path = typer.Option(..., help="Genome FASTA (indexed with pyfaidx; .fai written next to it)."),
    loci: Path = typer.Option(
        ..., help="Loci CSV: locus_id, chrom, center[, strand] (or gene_name, chrom, tss, strand)."
    ),
    out: Path = typer.Option(..., help="DNA store (.h5); resumes from <out>.partial and adds missing loci."),
    model: str = typer.Option(
        "enformer",
        help="'enformer' (EleutherAI/enformer-official-rough: Hugging Face cache or download) or a local directory "
        "with config.json and model.safetensors / pytorch_model.bin (save_pretrained or `huggingface-cli download "
        "--local-dir`). Needs the dna extra.",
    ),
    genome: str = typer.Option("", help="Genome build of the FASTA and loci, e.g. hg38 (stored in the DNA store)."),
    window: int = typer.Option(196_608, help="Input sequence length (bp) centred on each locus."),
    batch_size: int = typer.Option(1, help="Loci per forward pass."),
    reverse_complement: bool = typer.Option(
        False, help="Embed minus-strand loci from their own strand (the authors used the forward strand)."
    ),
    device: str = typer.Option("cpu", help="torch device."),
) -> None:
    """Enformer trunk embeddings [896, 3072] per locus into the DNA store."""
    from cdt.pp import embed_dna as run

    path = run(
        fasta,
        loci,
        out,
        model=model,
        window=window,
        batch_size=batch_size,
        reverse_complement_minus=reverse_complement,
        genome=genome,
        device=device,
    )
    console.print(f"wrote {path}")


@app.command()
def train(
    model: str = typer.Option(..., help="cdt1, cdt2, cdt3 (two-stage) or cdt3-single (single-stage ablation)."),
    preset: str = typer.Option(
        "mini", callback=_preset_name, help="Model dimensions and default schedule (tiny, mini, paper)."
    ),
    data: Path = typer.Option(
        None,
        help="Data directory: a screen directory (screen_<gene set>.h5ad from `cdt prepare` + dna.h5) or a "
        "`cdt simulate` directory (processed/, v1/).",
    ),
    screen: Path = typer.Option(None, help="Instead of --data: the screen (.h5ad in the screen contract)."),
    dna: Path = typer.Option(None, help="Instead of --data: the DNA store (.h5) holding every locus of --screen."),
    runs_dir: Path = typer.Option(Path("runs"), help="Where run directories (named by a data+config hash) go."),
    protocol: str = typer.Option(
        "paper",
        help="paper: held-out genes select and are reported; clean: 'val' genes "
        "select, held-out genes only tested at the end.",
    ),
    epochs: int = typer.Option(None, help="Epoch limit of every phase (default: the preset's schedule)."),
    micro_batch: int = typer.Option(
        None,
        help="Cells per forward/backward pass; gradients add up to the full batch (paper batch 64 in less memory).",
    ),
    seed: int = typer.Option(0, help="Seed for initialisation, data order and dropout."),
    gene_set: str = typer.Option("curated", help="curated or full (the CDT-II gene-set ablation)."),
    init_from: Path = typer.Option(
        None, help="CDT-III: trained CDT-II run directory or checkpoint (default: train the matching CDT-II first)."
    ),
    v1_split: str = typer.Option(
        "enhancer",
        help="CDT v1: enhancer-level split (pairs.csv `split`) or pair-level (`pair_split`, as the authors' files).",
    ),
    input_protocol: str = typer.Option(
        "cell",
        help="CDT-II/III input: cell (each cell's own RNA/protein, as the papers), control (a random NTC cell's, "
        "drawn afresh each epoch: only the DNA tells the perturbation) or ntc-mean (the NTC mean profile).",
    ),
    fast: bool = typer.Option(
        True,
        help="Speed switches: cells of a locus in runs (DNA branch once per locus), cheaper CPU dropout, fused AdamW, "
        "bf16 where the hardware has bf16 units. --no-fast trains the plain way; eval outputs are the same.",
    ),
    progress: bool = typer.Option(True, help="Show the progress bar."),
) -> None:
    """Train a model (resumes an unfinished run, reuses a finished one); under torchrun: DistributedDataParallel."""
    import os

    from cdt.train import DataFiles, TrainConfig
    from cdt.train import train as run
    from cdt.train.config import PLAIN_TRAINING

    if (screen is None) != (dna is None) or (screen is not None and data is not None):
        raise typer.BadParameter("give either --data DIR or both --screen FILE and --dna FILE", param_hint="--data")
    if data is None and screen is None:
        raise typer.BadParameter("give a data directory, or the files with --screen and --dna", param_hint="--data")
    if screen is not None and model == "cdt1":
        raise typer.BadParameter("CDT v1 trains on enhancer pairs: give --data DIR (with v1/)", param_hint="--screen")
    files = DataFiles(screen=str(screen.absolute()), dna=str(dna.absolute())) if screen is not None else data
    changes = {
        "protocol": protocol,
        "seed": seed,
        "gene_set": gene_set,
        "v1_split": v1_split,
        "init_from": str(init_from) if init_from else None,
        "input_protocol": input_protocol,
    }
    if epochs is not None:
        changes["epochs"] = epochs
    if micro_batch is not None:
        changes["micro_batch"] = micro_batch
    if not fast:
        changes.update(PLAIN_TRAINING)
    try:
        cfg = TrainConfig.for_model(model, preset, **changes)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    res = run(cfg, files, runs_dir, progress=progress)
    if int(os.environ.get("RANK", "0")) != 0:
        return
    m = res.metrics
    table = Table(
        "set",
        "metric",
        "model",
        "mean-training-effect baseline",
        title=f"{res.run_dir} ({'reused' if res.reused else 'trained'}, protocol {cfg.protocol}, "
        f"input {cfg.input_protocol})",
    )
    for role in ("select", "test"):
        for key in ("loss", "r", "pb_r", "protein_r", "protein_pb_r", "r2"):
            if f"{role}_{key}" in m:
                table.add_row(role, key, _fmt(m[f"{role}_{key}"]), _fmt(m.get(f"baseline_{role}_{key}")))
    console.print(table)
    console.print(
        f"best epoch {m.get('best_epoch')} of {m.get('epochs_trained')}; reported split(s) "
        f"{', '.join(m.get('reported', []))}; checkpoint {res.best_checkpoint}"
    )


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.4f}"


@app.command()
def reproduce(
    preset: str = typer.Option(
        None,
        callback=_preset_name,
        help="tiny | mini | paper: synthetic data size (default mini); real data and own screens: from the files",
    ),
    data: str = typer.Option(
        "synthetic", help="synthetic (simulated screen), real (the authors' files) or own (your screen directory)"
    ),
    data_dir: Path = typer.Option(
        None,
        help="real: directory with the authors' files; own: the screen directory (screen_curated.h5ad, dna.h5; "
        "see data/README.md)",
    ),
    seed: int = typer.Option(0, help="simulation and training seed"),
    seeds: str = typer.Option(
        None,
        help="synthetic: comma-separated seeds (e.g. 0,1,2), each a new screen and training seed, into <out>/seed<N>; "
        "<out>/REPORT.md gives every headline number's mean and range",
    ),
    out: Path = typer.Option(Path("paper"), help="where figures/, tables/, notebooks/ and REPORT.md go"),
    runs_dir: Path = typer.Option(Path("runs"), help="training runs (reused when finished)"),
    protocol: str = typer.Option("paper", help="paper (held-out genes select and are reported) | clean"),
    only: list[str] = typer.Option(None, help="run only notebooks whose name starts with this (repeatable)"),
    train_missing: bool = typer.Option(
        False, help="real: train the models that have no published weights (hours on a CPU; listed first)"
    ),
) -> None:
    """Rebuild every figure and table of CDT I-III: data, training (cached), notebooks, REPORT.md."""
    from cdt.reproduce import NotebookFailed
    from cdt.reproduce import reproduce as run

    if data not in ("synthetic", "real", "own"):
        raise typer.BadParameter(f"{data!r}; choose synthetic, real or own", param_hint="--data")
    if data == "own" and data_dir is None:
        raise typer.BadParameter(
            "--data own needs the screen directory (cdt prepare's output with dna.h5)", param_hint="--data-dir"
        )
    if data == "real" and data_dir is None:
        raise typer.BadParameter(
            "--data real needs the directory with the authors' files (see data/README.md)", param_hint="--data-dir"
        )
    if seeds is not None:
        if data != "synthetic":
            raise typer.BadParameter("seeds are simulated screens: use it with --data synthetic", param_hint="--seeds")
        try:
            seed_list = [int(s) for s in seeds.split(",")]
        except ValueError:
            raise typer.BadParameter(f"{seeds!r}: comma-separated integers, e.g. 0,1,2", param_hint="--seeds") from None
    try:
        if seeds is not None:
            from cdt.reproduce import reproduce_seeds

            reproduce_seeds(
                seed_list,
                preset=preset,
                out_dir=out,
                runs_dir=runs_dir,
                data_dir=data_dir,
                only=only,
                protocol=protocol,
            )
            return
        run(
            preset=preset,
            data_source=data,
            data_dir=data_dir,
            seed=seed,
            out_dir=out,
            runs_dir=runs_dir,
            only=only,
            protocol=protocol,
            train_missing=train_missing,
        )
    except NotebookFailed as exc:
        console.print(f"[red]notebook failed[/red]: {exc}")
        raise typer.Exit(1) from None


@app.command("leak-free")
def leak_free(
    seeds: str = typer.Option("0", help="comma-separated seeds: each a new simulated screen and training seed"),
    preset: str = typer.Option("mini", help="tiny | mini | paper: synthetic data size"),
    models: str = typer.Option(
        "cdt2", help="comma-separated: cdt2, cdt3 (CDT-III starts from the same protocol's CDT-II)"
    ),
    epochs: int = typer.Option(None, help="epoch limit of every phase (default: the preset's schedule)"),
    out: Path = typer.Option(Path("paper/leak_free"), help="where the per-seed and spread tables (CSV) go"),
    runs_dir: Path = typer.Option(Path("runs"), help="training runs (reused when finished)"),
) -> None:
    """CDT under the `cell` and `control` input protocols on simulated screens, beside the baselines and against the
    planted truth; with several seeds, the mean and range of every number (tables in --out)."""
    import cdt.analyses.leak_free as lf
    from cdt.reproduce import REPO_ROOT, get_synthetic_data

    seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    per_seed: dict[str, dict[int, object]] = {}
    out.mkdir(parents=True, exist_ok=True)
    for seed in seed_list:
        paths = get_synthetic_data(preset, seed, REPO_ROOT / "data" / "processed")
        tables = lf.seed_tables(paths, runs_dir, preset=preset, seed=seed, models=models.split(","), epochs=epochs)
        for name, table in tables.items():
            table.to_csv(out / f"{name}_seed{seed}.csv", index=False)
            per_seed.setdefault(name, {})[seed] = table
    spreads = {
        "prediction": lf.seed_spread(per_seed["prediction"], ["model", "input_protocol", "target", "method"], "r"),
        "prediction_pb": lf.seed_spread(
            per_seed["prediction"], ["model", "input_protocol", "target", "method"], "pb_r"
        ),
        "readouts": lf.seed_spread(per_seed["readouts"], ["run", "claim"]),
        "controls": lf.seed_spread(per_seed["controls"], ["claim"]),
    }
    for name, table in spreads.items():
        table.to_csv(out / f"{name}_spread.csv", index=False)
        console.print(f"[bold]{name}[/bold] over seeds {seed_list}")
        console.print(table.round(3).to_string(index=False))


if __name__ == "__main__":
    app()
