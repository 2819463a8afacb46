"""Output sets written whole or not at all: build in a staging directory, then move the files into place.

A command that writes several files (`cdt simulate`, `cdt prepare`) writes them into ``.<name>.partial`` beside
the output directory. Only when every file is there are they moved in, with a marker file present in the output
directory during the moves; readers refuse a directory that still has the marker. A run killed before the moves
leaves the earlier set as it was; a run killed during them leaves the marker, so the mixed set is never read as
complete. The staging name is fixed so that the same inputs give the same files wherever they are made.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cdt.data.errors import IncompleteOutputError

MARKER = ".cdt-incomplete"


def staging_dir(out: str | os.PathLike) -> Path:
    """Where an output set for `out` is built before it is moved into place."""
    out = Path(out)
    return out.parent / f".{out.name}.partial"


@contextmanager
def staged_output(out: str | os.PathLike, last: str | None = None) -> Iterator[Path]:
    """Yield an empty staging directory; on success move its files into `out` (`last`, e.g. a manifest, last).

    On any error (or interruption) the staging directory is removed and `out` is left untouched.
    """
    out = Path(out)
    stage = staging_dir(out)
    if stage.exists():  # left by an interrupted run
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    try:
        yield stage
        publish(stage, out, last)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def publish(stage: Path, out: Path, last: str | None = None) -> list[Path]:
    """Move every file under `stage` to the same place under `out`, inside a marker-guarded window."""
    files = sorted(p for p in stage.rglob("*") if p.is_file())
    files.sort(key=lambda p: last is not None and p.relative_to(stage).as_posix() == last)
    out.mkdir(parents=True, exist_ok=True)
    marker = out / MARKER
    marker.write_text("".join(f"{p.relative_to(stage).as_posix()}\n" for p in files))
    if last is not None:
        (out / last).unlink(missing_ok=True)
    moved = []
    for src in files:
        dst = out / src.relative_to(stage)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
        moved.append(dst)
    marker.unlink()
    return moved


def check_complete(path: str | os.PathLike) -> None:
    """Refuse a file whose directory (or the one above) holds the marker of an interrupted write."""
    path = Path(path)
    for d in (path.parent, path.parent.parent):
        if (d / MARKER).exists():
            raise IncompleteOutputError(
                f"{d}: an interrupted write left this output set incomplete ({path.name} may be from another run)",
                "rerun the command that made it",
            )
