"""What every CLI test uses: ``mlops`` run as a user runs it, in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

MLOPS = str(Path(sys.executable).parent / "mlops")
Mlops = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def mlops(home: Path, tmp_path: Path) -> Mlops:
    """Run ``mlops ARGS`` in the notebook folder with this test's store; wait for it."""

    def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [MLOPS, *map(str, args)],
            capture_output=True,
            text=True,
            cwd=cwd or tmp_path,
            timeout=120,
        )

    return run
