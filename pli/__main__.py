"""Allow ``python -m pli``."""

from pli.cli import main

raise SystemExit(main())
