#!/usr/bin/env python3
"""Thin entry point: `python scripts/collect_kubectl.py --help` (same as `python -m twinbench collect-kubectl`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # make `twinbench` importable when run as a file

from twinbench.cli.collect import main_kubectl  # noqa: E402

if __name__ == "__main__":
    sys.exit(main_kubectl())
