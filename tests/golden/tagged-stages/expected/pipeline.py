#!/usr/bin/env python3
"""Pipeline 'train', version 85f57ac0b1ee, compiled by mlops-jupyter 0.1.0 from train.ipynb.

Run it from anywhere (needs only mlops-jupyter installed):

    python pipeline.py [-p NAME=VALUE ...] [--jobs N] [--no-cache] [--json]

Parameters:
    n_samples (int) = 200
    learning_rate (float) = 0.05
    epochs (int) = 3
    features (list) = ['x1', 'x2']
    config (dict) = {'seed': 7, 'note': None}
    verbose (bool) = False

Stages, in order:
    load
    features  (after load)
    train  (after load, features)
    report  (after features, train)

"""

import sys
from pathlib import Path

from mlops_jupyter.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", str(Path(__file__).resolve().parent), *sys.argv[1:]]))
