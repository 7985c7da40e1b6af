#!/usr/bin/env python3
"""Pipeline 'magic', version f12c03ee92d7, compiled by mlops-jupyter 0.1.0 from magic.ipynb.

Run it from anywhere (needs only mlops-jupyter installed):

    python pipeline.py [-p NAME=VALUE ...] [--jobs N] [--no-cache] [--json]

Parameters:
    limit (int) = 10

Stages, in order:
    numbers
    squares  (after numbers)
    total  (after numbers, squares)

"""

import sys
from pathlib import Path

from mlops_jupyter.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", str(Path(__file__).resolve().parent), *sys.argv[1:]]))
