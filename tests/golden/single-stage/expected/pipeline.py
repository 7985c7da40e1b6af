#!/usr/bin/env python3
"""A pipeline compiled by mlops-jupyter from a notebook: NOTEBOOK, PARAMETERS and STAGES below.

Run it from anywhere (needs only mlops-jupyter installed); it is `mlops run` on this folder:

    python pipeline.py [-p NAME=VALUE ...] [--jobs N] [--no-cache] [--json]

The runner reads pipeline.json beside this file; the values below are for people to read.
"""

import sys
from pathlib import Path

from mlops_jupyter.cli import main

PIPELINE = 'report'
VERSION = '7ff93d6aa73d'
COMPILER = 'mlops-jupyter 0.1.0'
NOTEBOOK = 'report.ipynb'
PARAMETERS = {  # name: [type, default]
    'region': ['str', 'emea'],
    'weeks': ['int', 4],
}
STAGES = {  # in notebook order: name: the stages it runs after
    'main': [],
}

if __name__ == "__main__":
    sys.exit(main(["run", str(Path(__file__).resolve().parent), *sys.argv[1:]]))
