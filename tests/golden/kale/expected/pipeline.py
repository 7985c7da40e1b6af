#!/usr/bin/env python3
"""Pipeline 'kale_pipeline', version 521cec3fb3ca, compiled by mlops-jupyter 0.1.0 from kale_pipeline.ipynb.

Run it from anywhere (needs only mlops-jupyter installed):

    python pipeline.py [-p NAME=VALUE ...] [--jobs N] [--no-cache] [--json]

Parameters:
    THRESHOLD (float) = 0.5
    SIZES (list) = [3, 9, 4, 12]

Stages, in order:
    load_data
    preprocess  (after load_data)
    evaluate  (after preprocess)

"""

import sys
from pathlib import Path

from mlops_jupyter.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", str(Path(__file__).resolve().parent), *sys.argv[1:]]))
