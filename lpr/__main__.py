"""``python -m lpr``: read license plates (see :mod:`lpr.cli`); ``python -m lpr serve``: read them over
HTTP (:mod:`lpr.serve`)."""
from lpr.cli import main

raise SystemExit(main(prog="python -m lpr"))
