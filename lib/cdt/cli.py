"""The `cdt` command line. Each command is a thin shell over a library function."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from cdt.config import PRESETS

app = typer.Typer(help="Central Dogma Transformer toolkit.", no_args_is_help=True, add_completion=False)
console = Console()


@app.callback()
def main() -> None:
    """Simulate or prepare screens, train CDT models, and rebuild the papers' figures."""


@app.command()
def presets() -> None:
    """Show the presets (paper = published dimensions, mini = default, tiny = tests)."""
    table = Table("field", *PRESETS)
    for field in next(iter(PRESETS.values())).to_dict():
        table.add_row(field, *(str(p.to_dict()[field]) for p in PRESETS.values()))
    console.print(table)


if __name__ == "__main__":
    app()
