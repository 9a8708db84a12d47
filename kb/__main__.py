"""Run the `kb` command as `python -m kb`."""

from kb.cli import main

raise SystemExit(main())
