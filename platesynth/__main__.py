"""``python -m platesynth``: synthetic plate crops, scenes and contact sheets (see :mod:`platesynth.cli`)."""
from platesynth.cli import main

raise SystemExit(main())
