#!/usr/bin/env python3
"""A pipeline compiled by mlops-jupyter from a notebook: NOTEBOOK, PARAMETERS and STAGES below.

Run it from anywhere (needs only mlops-jupyter installed); it is `mlops run` on this folder:

    python pipeline.py [-p NAME=VALUE ...] [--jobs N] [--no-cache] [--json]

The runner reads pipeline.json beside this file; the values below are for people to read.
"""

import sys
from pathlib import Path

from mlops_jupyter.cli import main

PIPELINE = 'train'
VERSION = '85f57ac0b1ee'
COMPILER = 'mlops-jupyter 0.1.0'
NOTEBOOK = 'train.ipynb'
PARAMETERS = {  # name: [type, default]
    'n_samples': ['int', 200],
    'learning_rate': ['float', 0.05],
    'epochs': ['int', 3],
    'features': ['list', ['x1', 'x2']],
    'config': ['dict', {'seed': 7, 'note': None}],
    'verbose': ['bool', False],
}
STAGES = {  # in notebook order: name: the stages it runs after
    'load': [],
    'features': ['load'],
    'train': ['load', 'features'],
    'report': ['features', 'train'],
}

if __name__ == "__main__":
    sys.exit(main(["run", str(Path(__file__).resolve().parent), *sys.argv[1:]]))
