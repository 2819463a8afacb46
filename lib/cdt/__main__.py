"""`python -m cdt ...` runs the command line, so launchers that start Python modules (`torchrun -m cdt train ...`)
need no `cdt` script on the PATH."""

from cdt.cli import app

app(prog_name="cdt")
