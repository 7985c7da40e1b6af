"""The scheduler: claim each due fire exactly once, run it through the runner, keep its lease.

Any number of these loops may share one store. A loop decides a schedule's due fires and moves
its ``next_fire`` on in one SQLite write transaction (``store/schedules.decide_fires``), so the
next loop sees the decision made; the fires table's ``UNIQUE (schedule, scheduled_for)`` refuses
a second claim even so. While a fired run goes, its claimer renews the fire's lease; a loop that
finds a lease run out (its claimer was killed) records the run ``interrupted`` and runs the fire
once more. Between due times the loop sleeps (an ``Event`` wait), so an idle scheduler costs
nothing.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import MlopsError
from ..status import RunStatus
from ..store import schedules as table
from ..store.db import Store
from . import cron

GRACE_S = 30.0  # a due time claimed within this long is on time; older ones are catch-ups
LEASE_S = 30.0  # a fire's lease; renewed every third of it while its run goes


def decide(row: dict[str, Any], now: float, busy: bool) -> tuple[list[table.Fire], float]:
    """The fires due for a schedule at ``now`` and its next fire time after them.

    Due are the cron times from ``next_fire`` to ``now``. The newest is on time if it is at most
    ``GRACE_S`` old; the older ones were missed (no scheduler ran) and the catch-up policy picks
    among them: ``skip`` none, ``latest`` the newest, ``all`` the newest ``max_catch_up``. The
    first fire runs and the others of this pass queue behind it; fires due while the schedule's
    previous run still goes are skipped (reason ``overlap``) unless the overlap policy is
    ``queue``."""
    limit = row["max_catch_up"] + 1
    due = cron.times_between(row["cron"], row["tz"], row["next_fire"] - 1, now, limit)
    on_time = due[-1:] if due and now - due[-1] <= GRACE_S else []
    missed = due[: len(due) - len(on_time)]
    keep = {"skip": 0, "latest": 1, "all": row["max_catch_up"]}[row["catch_up"]]
    chosen = [(t, "catch-up") for t in missed[len(missed) - keep :]] if keep else []
    chosen += [(t, "on-time") for t in on_time]
    fires: list[table.Fire] = []
    for i, (when, reason) in enumerate(chosen):
        if busy and row["overlap"] == "skip":  # the schedule's previous run still goes
            fires.append((when, "overlap", table.SKIPPED))
        elif busy or i:  # behind that run, or behind the first fire of this pass
            fires.append((when, reason, table.QUEUED))
        else:
            fires.append((when, reason, table.ACTIVE))
    return fires, cron.next_after(row["cron"], row["tz"], max(now, row["next_fire"]))


class Scheduler:
    """One loop over the store at ``home``; ``clock`` is injectable so catch-up is testable."""

    def __init__(
        self,
        home: str | Path,
        *,
        clock: Callable[[], float] = time.time,
        poll: float = 5.0,
        lease: float = LEASE_S,
        log: Callable[[str], None] | None = None,
        origin: str = "scheduler",
    ) -> None:
        self.home = Path(home)
        self.origin = origin  # what its runs record as where they were started
        self.clock = clock
        self.poll = poll
        self.lease = lease
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.claimer = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.stopping = threading.Event()  # stop claiming; running fires go on
        self.cancel = threading.Event()  # stop the running fires too (a second Ctrl-C)
        self.wakeup = threading.Event()  # cuts a sleep short: stopping, or a schedule changed
        self.workers: dict[int, threading.Thread] = {}
        self.fired: list[int] = []

    # -- the loop

    def run(self, *, once: bool = False) -> None:
        """Fire what is due until stopped (SIGTERM, Ctrl-C); ``once``: what is due now. Returns
        after the fires it started have ended."""
        restore = self._handle_signals()
        try:
            with Store(self.home) as store:
                started = self.tick(store)
                while not self.stopping.is_set():
                    if once:  # what was due when it began, and the fires queued behind those
                        if not started:
                            break
                        self._drain(store)
                        started = self.tick(store, due=False)
                        continue
                    self.wakeup.wait(self._sleep(store))
                    self.wakeup.clear()
                    started = self.tick(store)
                self._drain(store)
        finally:
            restore()

    def wake(self) -> None:
        """Look at the schedules now (one was added or resumed), not at the next poll."""
        self.wakeup.set()

    def stop(self, *, cancel: bool = False) -> None:
        """Stop claiming (``cancel``: and stop the running fires, recorded interrupted); ``run``
        returns once its fires have ended. Safe from any thread."""
        if cancel:
            self.cancel.set()
        self.stopping.set()
        self.wakeup.set()

    def _drain(self, store: Store) -> None:
        """Wait for the running fires (after a second signal they are being recorded
        interrupted), renewing their leases meanwhile."""
        while self._alive():
            self._renew(store)
            for thread in list(self.workers.values()):
                thread.join(timeout=self.lease / 3)
                break

    def tick(self, store: Store, *, due: bool = True) -> list[int]:
        """One pass: renew leases, recover expired fires, claim what is due (``due=False``:
        only fires queued earlier). Returns the fires started."""
        now = self.clock()
        self._renew(store)
        taken, orphaned = table.recover_expired(store, now, self.claimer, self.lease)
        for run_id in orphaned:
            self._interrupted(store, run_id)
        for fire_id in taken:
            self.log(f"mlops scheduler: fire {fire_id} lost its scheduler; running it again")
        if not self.stopping.is_set():
            for name in table.due_schedules(store, now) if due else ():
                taken += table.decide_fires(
                    store,
                    name,
                    now,
                    self.claimer,
                    self.lease,
                    lambda row: decide(row, now, table.has_active(store, row["name"])),
                )
            taken += table.claim_queued(store, now, self.claimer, self.lease)
        for fire_id in taken:
            self._start(fire_id)
        return taken

    def _sleep(self, store: Store) -> float:
        wait = self.poll
        due = table.next_due(store)
        if due is not None:
            wait = min(wait, due - self.clock())
        if self._alive():
            wait = min(wait, self.lease / 3)
        return max(wait, 0.005)

    def _alive(self) -> bool:
        self.workers = {i: t for i, t in self.workers.items() if t.is_alive()}
        return bool(self.workers)

    def _renew(self, store: Store) -> None:
        if self._alive():
            table.renew(store, self.claimer, list(self.workers), self.clock() + self.lease)

    def _interrupted(self, store: Store, run_id: str) -> None:
        """A run whose scheduler stopped renewing its lease: it is not going on any more."""
        store.reap_all()  # its process is gone: ends it at its last recorded event
        try:
            run = store.get_run(run_id)
        except MlopsError:
            return
        if run["status"] == RunStatus.RUNNING:  # its process lives, but hung past its lease
            store.finish_run(run_id, RunStatus.INTERRUPTED, "its scheduler stopped renewing")

    def _handle_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def handler(signum: int, frame: Any) -> None:
            self.stop(cancel=self.stopping.is_set())  # asked twice: stop the running fires too

        previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}

        def restore() -> None:
            for number, old in previous.items():
                signal.signal(number, old)

        return restore

    # -- one fire

    def _start(self, fire_id: int) -> None:
        thread = threading.Thread(
            target=self._fire, args=(fire_id,), name=f"mlops-fire-{fire_id}", daemon=True
        )
        self.workers[fire_id] = thread
        self.fired.append(fire_id)
        thread.start()

    def _fire(self, fire_id: int) -> None:
        from ..runner.run import RunOptions, run_pipeline

        with Store(self.home) as store:
            fire = table.get_fire(store, fire_id)
            try:
                schedule = table.get_schedule(store, fire["schedule"]) if fire else None
            except MlopsError:
                schedule = None
            if fire is None or schedule is None:  # removed meanwhile
                return

            def recorded(event: dict[str, Any]) -> None:
                if event.get("event") == "run" and event.get("run_id"):
                    table.set_fire_run(store, fire_id, event["run_id"])

            parameters = dict(schedule["parameters"])
            when = cron.iso(fire["scheduled_for"], schedule["tz"])
            try:  # a notebook that declares `scheduled_for` is told the time it runs for
                from .model import declared_parameters

                target = Path(schedule["compiled"] or schedule["target"])
                if "scheduled_for" in declared_parameters(target):
                    parameters.setdefault("scheduled_for", when)
            except MlopsError:
                pass  # the run itself says what is wrong with the target
            options = RunOptions(
                parameters=parameters,
                origin=self.origin,
                cancel=self.cancel,
                trigger="schedule",
                schedule=schedule["name"],
                scheduled_for=fire["scheduled_for"],
            )
            status, run_id = str(RunStatus.FAILED), None
            try:
                result = run_pipeline(
                    schedule["compiled"] or schedule["target"], options, [recorded], self.home
                )
                status, run_id = str(result["status"]), result["run_id"]
            except MlopsError as exc:
                self.log(f"mlops scheduler: schedule {schedule['name']}: {exc}")
            except Exception as exc:  # one bad fire must not stop the loop
                self.log(
                    f"mlops scheduler: schedule {schedule['name']}: {type(exc).__name__}: {exc}"
                )
            table.finish_fire(store, fire_id, self.claimer, status)
            self.log(f"mlops scheduler: {schedule['name']} {when}: run {run_id} {status}")
            if status != RunStatus.SUCCEEDED and schedule["on_failure"]:
                self._on_failure(schedule, run_id, when, status)

    def _on_failure(
        self, schedule: dict[str, Any], run_id: str | None, when: str | None, status: str
    ) -> None:
        """The user's own command: told what failed through the environment, never waited on
        past the loop's life (it runs in this fire's thread)."""
        env = {
            **os.environ,
            "MLOPS_SCHEDULE": schedule["name"],
            "MLOPS_RUN_ID": run_id or "",
            "MLOPS_SCHEDULED_FOR": when or "",
            "MLOPS_RUN_STATUS": status,
        }
        try:
            subprocess.run(schedule["on_failure"], shell=True, env=env, check=False)
        except OSError as exc:
            self.log(f"mlops scheduler: --on-failure command of {schedule['name']}: {exc}")
