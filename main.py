"""Read license plates in photos, folders, globs or videos: ``python main.py --help``.

A thin wrapper kept for ``python main.py`` in a checkout; the command line lives in :mod:`lpr.cli`
(also ``python -m lpr`` and the installed ``lpr-read``). ``python main.py serve`` starts the HTTP
service (:mod:`lpr.serve`).
"""
from lpr.cli import main

if __name__ == "__main__":
    raise SystemExit(main(prog="python main.py"))
