"""``python -m lpr``: read license plates (see :mod:`lpr.cli`)."""
from lpr.cli import main

raise SystemExit(main(prog="python -m lpr"))
