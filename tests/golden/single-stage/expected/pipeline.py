#!/usr/bin/env python3
"""Pipeline 'report', version 7ff93d6aa73d, compiled by mlops-jupyter 0.1.0 from report.ipynb.

Run it from anywhere (needs only mlops-jupyter installed):

    python pipeline.py [-p NAME=VALUE ...] [--jobs N] [--no-cache] [--json]

Parameters:
    region (str) = 'emea'
    weeks (int) = 4

Stages, in order:
    main

"""

import sys
from pathlib import Path

from mlops_jupyter.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", str(Path(__file__).resolve().parent), *sys.argv[1:]]))
