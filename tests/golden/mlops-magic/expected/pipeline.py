#!/usr/bin/env python3
"""A pipeline compiled by mlops-jupyter from a notebook: NOTEBOOK, PARAMETERS and STAGES below.

Run it from anywhere (needs only mlops-jupyter installed); it is `mlops run` on this folder:

    python pipeline.py [-p NAME=VALUE ...] [--jobs N] [--no-cache] [--json]

The runner reads pipeline.json beside this file; the values below are for people to read.
"""

import sys
from pathlib import Path

from mlops_jupyter.cli import main

PIPELINE = 'magic'
VERSION = 'f12c03ee92d7'
COMPILER = 'mlops-jupyter 0.1.0'
NOTEBOOK = 'magic.ipynb'
PARAMETERS = {  # name: [type, default]
    'limit': ['int', 10],
}
STAGES = {  # in notebook order: name: the stages it runs after
    'numbers': [],
    'squares': ['numbers'],
    'total': ['numbers', 'squares'],
}

if __name__ == "__main__":
    sys.exit(main(["run", str(Path(__file__).resolve().parent), *sys.argv[1:]]))
