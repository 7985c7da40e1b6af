"""Scheduler loops hosted by a long-lived process (the Jupyter server): one per store.

A server serves every store under its root, and schedules live in those stores; so the host
looks for stores holding schedules (a bounded walk of the root, again every ``RESCAN_S``) and
runs one :class:`~.loop.Scheduler` thread for each. Loops of other processes (``mlops
scheduler``) may share those stores: claims keep every fire single. A store is opened for
writing only once it is known to hold a schedule, read-only before that: a server starting
must not migrate or create stores it merely passes.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from ..home import HOME_DIR
from .loop import Scheduler

RESCAN_S = 60.0  # a schedule added from a terminal under the root is fired after at most this
MAX_DEPTH = 4  # folders below the root walked for stores
MAX_FOLDERS = 5000  # a root that is a home folder must not cost a long walk every minute
SKIP = {"node_modules", "__pycache__", "site-packages", "dist", "build"}


def has_schedules(home: Path) -> bool:
    """Whether the store at ``home`` holds a schedule, read without writing anything."""
    db = home / "mlops.db"
    if not db.is_file():
        return False
    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
        try:
            return con.execute("SELECT 1 FROM schedules LIMIT 1").fetchone() is not None
        finally:
            con.close()
    except sqlite3.Error:  # older store (no schedules table yet), locked, damaged: none here
        return False


def stores_under(root: Path) -> Iterator[Path]:
    """The ``.mlops`` store folders at most ``MAX_DEPTH`` below ``root`` (hidden folders, virtual
    environments and build output are not walked)."""
    seen = 0
    level = [root]
    for _ in range(MAX_DEPTH + 1):
        below: list[Path] = []
        for folder in level:
            seen += 1
            if seen > MAX_FOLDERS:
                return
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                if not entry.is_dir(follow_symlinks=False):
                    continue
                if entry.name == HOME_DIR:
                    yield Path(entry.path)
                elif (
                    not entry.name.startswith(".")
                    and entry.name not in SKIP
                    and not os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))
                ):
                    below.append(Path(entry.path))
        level = below


class SchedulerHost:
    """The loops of one process. ``add(home)`` starts one for a store (once); ``stop`` ends all,
    cancelling their running fires so the store records them interrupted."""

    def __init__(
        self,
        root: Path,
        *,
        origin: str = "jupyter",
        accept: Callable[[Path], bool] = lambda home: True,
        log: logging.Logger | None = None,
    ) -> None:
        self.root = root
        self.origin = origin
        self.accept = accept  # the host's own rule for stores it may serve (the server's root)
        self.logger = log or logging.getLogger(__name__)
        self._lock = threading.Lock()
        self._loops: dict[Path, tuple[Scheduler, threading.Thread]] = {}
        self._stopped = threading.Event()
        self._scanner: threading.Thread | None = None

    def start(self, only: Path | None = None) -> None:
        """Host the stores under the root holding schedules (``only``: that one store, as with
        ``$MLOPS_HOME``), and look again every ``RESCAN_S`` seconds."""
        self._scanner = threading.Thread(
            target=self._scan_forever, args=(only,), name="mlops-schedules", daemon=True
        )
        self._scanner.start()

    def _scan_forever(self, only: Path | None) -> None:
        while not self._stopped.is_set():
            for home in [only] if only is not None else stores_under(self.root):
                if self._stopped.is_set():
                    return
                known = home.resolve() in self._loops
                if not known and has_schedules(home) and self.accept(home):
                    self.add(home)
            self._stopped.wait(RESCAN_S)

    def add(self, home: Path) -> None:
        """Host the loop of the store at ``home`` (a schedule was just added there), or wake it
        if it runs already."""
        key = home.resolve()
        with self._lock:
            if self._stopped.is_set():
                return
            hosted = self._loops.get(key)
            if hosted is not None and hosted[1].is_alive():
                hosted[0].wake()
                return
            loop = Scheduler(key, origin=self.origin, log=self.logger.info)
            thread = threading.Thread(
                target=self._run, args=(loop,), name=f"mlops-scheduler-{key}", daemon=True
            )
            self._loops[key] = (loop, thread)
            thread.start()
        self.logger.info("mlops_jupyter: firing the schedules of %s", key)

    def _run(self, loop: Scheduler) -> None:
        try:
            loop.run()
        except Exception:  # a damaged store must not take the server down: say so, go on
            self.logger.exception("mlops_jupyter: the scheduler of %s stopped", loop.home)

    def active(self) -> bool:
        """A fire's run is going (activity, for an idle-culling server)."""
        with self._lock:
            loops = [loop for loop, _ in self._loops.values()]
        return any(t.is_alive() for loop in loops for t in list(loop.workers.values()))

    def homes(self) -> list[Path]:
        with self._lock:
            return [home for home, (_, thread) in self._loops.items() if thread.is_alive()]

    def stop(self, timeout: float) -> None:
        """Stop claiming, cancel running fires, wait up to ``timeout`` for them to be recorded."""
        self._stopped.set()
        with self._lock:
            hosted = list(self._loops.values())
        for loop, _ in hosted:
            loop.stop(cancel=True)
        for _, thread in hosted:
            thread.join(timeout)
