"""Wall time of the full reproduction (`cdt reproduce`) by stage: simulate, train each model, run each notebook.

By default it runs `cdt reproduce --preset mini` in a fresh working directory (its own --out, --runs-dir and
--data-dir), so nothing cached is reused and every stage really runs, then reads the stage timings that the
reproduction writes into REPORT.md ("Wall time by stage"). The 1-minute load average is sampled while it runs.

    python bench/reproduce_time.py                          # fresh mini reproduction (10-15 min on 2 cores)
    python bench/reproduce_time.py --workdir W --reuse      # keep W: a second run reuses its data and models
    python bench/reproduce_time.py --report paper/REPORT.md # only read the timings of an existing report
    python bench/reproduce_time.py --quick                  # tiny preset, first notebook only

The last line printed is the headline: the total wall time and its split into data, training and notebooks.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import choose_threads

ROW = re.compile(r"^\|\s*(?P<stage>[^|]+?)\s*\|\s*(?P<seconds>[0-9.]+)\s*\|\s*$")
PRESET = re.compile(r"^- \*\*preset\*\*: (?P<preset>\S+)")


def read_stage_times(report: Path) -> tuple[str, dict[str, float]]:
    """(preset, {stage: seconds}) from the header and the "Wall time by stage" table of a REPORT.md."""
    if not report.exists():
        raise FileNotFoundError(f"{report}: no reproduction report")
    lines = report.read_text().splitlines()
    try:
        start = lines.index("## Wall time by stage")
    except ValueError:
        raise ValueError(f"{report}: no '## Wall time by stage' section") from None
    times = {}
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        m = ROW.match(line)
        if m:
            times[m["stage"]] = float(m["seconds"])
    if "total" not in times:
        raise ValueError(f"{report}: the wall-time table has no 'total' row")
    presets = [m["preset"] for m in map(PRESET.match, lines[:start]) if m]
    return (presets[0] if presets else "?"), times


STAGE = re.compile(r"^(?:train (?P<train>\S+) \(|notebook \d+/\d+ (?P<notebook>\S+)\.py)")


class ReproductionFailed(RuntimeError):
    """`cdt reproduce` exited with an error; carries the stage times seen in its log up to then."""

    def __init__(self, message: str, stages: dict[str, float]):
        super().__init__(message)
        self.stages = stages


def log_stage_times(starts: list[tuple[str, float]], end: float) -> dict[str, float]:
    """{stage: seconds} from the times the reproduction's log announced each stage (the first stage is "data")."""
    return {stage: (starts[i + 1][1] if i + 1 < len(starts) else end) - t for i, (stage, t) in enumerate(starts)}


def run_reproduction(
    preset: str,
    workdir: Path,
    only: list[str],
    threads: int,
) -> tuple[Path, float, list[float], dict[str, float]]:
    """`cdt reproduce` with everything under `workdir`, its torch (and notebook kernels') threads set by OMP_NUM_THREADS.

    Returns (report, wall seconds, sampled 1-min loads, stage times seen in the log at 2 s resolution).
    """
    cmd = [
        sys.executable,
        "-m",
        "cdt.cli",
        "reproduce",
        "--preset",
        preset,
        "--out",
        str(workdir / "paper"),
        "--runs-dir",
        str(workdir / "runs"),
        "--data-dir",
        str(workdir / "data"),
    ]
    for o in only:
        cmd += ["--only", o]
    log = workdir / "reproduce.log"
    loads: list[float] = []
    started = time.perf_counter()
    starts = [("data", 0.0)]
    with open(log, "w") as f:
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=workdir, env=env)
        with open(log, errors="replace") as reader:
            while True:
                done = proc.poll() is not None
                for line in re.split(r"[\r\n]+", reader.read()):
                    m = STAGE.match(line.strip())
                    if m:
                        starts.append(
                            (f"train {m['train']}" if m["train"] else m["notebook"], time.perf_counter() - started)
                        )
                if done:
                    break
                loads.append(os.getloadavg()[0])
                time.sleep(2)
    seconds = time.perf_counter() - started
    stages = log_stage_times(starts, seconds)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise ReproductionFailed(f"`{' '.join(cmd)}` failed ({proc.returncode}); last lines of {log}:\n{tail}", stages)
    return workdir / "paper" / "REPORT.md", seconds, loads, stages


def group_of(stage: str) -> str:
    if stage == "data":
        return "data"
    return "training" if stage.startswith("train ") else "notebooks"


def group_times(times: dict[str, float]) -> dict[str, float]:
    """Seconds of data, training and notebooks. Side by side, models and notebooks overlap: then the report's
    "training" and "notebooks" rows (wall times) count, not the sum of their stages."""
    walls = {g: times[g] for g in ("training", "notebooks") if g in times}
    groups = dict(walls)
    for stage, s in times.items():
        if stage not in walls and group_of(stage) not in walls:
            groups[group_of(stage)] = groups.get(group_of(stage), 0.0) + s
    return groups


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="mini")
    p.add_argument(
        "--workdir",
        type=Path,
        help="where data, runs and the report go (default: a temporary directory, removed afterwards)",
    )
    p.add_argument("--reuse", action="store_true", help="keep --workdir's earlier data and runs (they are reused)")
    p.add_argument("--only", action="append", default=[], help="only notebooks starting with this (repeatable)")
    p.add_argument("--report", type=Path, help="do not run: read the timings of this REPORT.md")
    p.add_argument(
        "--threads",
        type=int,
        help="torch threads of the reproduction (default: 1 if the machine is busy, else torch's choice)",
    )
    p.add_argument("--quick", action="store_true", help="tiny preset, first notebook only")
    args = p.parse_args()
    threads = choose_threads(args.threads)
    if args.quick:
        args.preset, args.only = "tiny", args.only or ["01"]

    wall, loads, how = None, [], f"timings read from {args.report}"
    if args.report is None:
        if args.reuse and args.workdir is None:
            p.error("--reuse needs --workdir")
        temp = args.workdir is None
        workdir = Path(tempfile.mkdtemp(prefix="cdt-reproduce-")) if temp else args.workdir.resolve()
        if workdir.exists() and not args.reuse and not temp:
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            report, wall, loads, _ = run_reproduction(args.preset, workdir, args.only, threads)
            preset, times = read_stage_times(report)
        except ReproductionFailed as exc:
            print(exc, file=sys.stderr)
            print("stage times seen in the log before the failure (2 s resolution):")
            for stage, s in exc.stages.items():
                print(f"{stage:28} {s:9.1f}")
            print(
                f"reproduce {args.preset}: FAILED after {sum(exc.stages.values()):.0f} s, in stage "
                f"{list(exc.stages)[-1]}"
            )
            raise SystemExit(1) from None
        finally:
            if temp:
                shutil.rmtree(workdir, ignore_errors=True)
        how = (
            f"cdt reproduce --preset {args.preset}{''.join(f' --only {o}' for o in args.only)} in "
            f"{'a reused' if args.reuse else 'a fresh'} directory, {threads} torch thread(s)"
        )
    else:
        preset, times = read_stage_times(args.report)

    total = times.pop("total")
    print(f"{how}")
    print(f"{'stage':28} {'seconds':>9} {'share':>7}")
    for stage, s in times.items():
        print(f"{stage:28} {s:9.1f} {100 * s / total:6.1f}%")
    print(f"{'total (report)':28} {total:9.1f}")
    if wall is not None:
        print(f"{'process wall time':28} {wall:9.1f}   (includes start-up and writing the report)")
    groups = group_times(times)
    load = (
        f"; 1-min load during the run: mean {sum(loads) / len(loads):.1f}, max {max(loads):.1f} on "
        f"{os.cpu_count()} cores"
        if loads
        else ""
    )
    print(
        f"reproduce {preset}: total {total:.0f} s ({total / 60:.1f} min) = "
        + ", ".join(f"{g} {groups.get(g, 0.0):.0f} s" for g in ("data", "training", "notebooks"))
        + load
    )


if __name__ == "__main__":
    main()
