"""Command line: `python -m api serve|migrate|users ...`."""

from api.cli import main

raise SystemExit(main())
