"""The schedules and fires tables (migration 4): what ``mlops schedule`` writes and the
scheduler claims. Every decision another scheduler could race is one ``BEGIN IMMEDIATE``
transaction, so SQLite's write lock orders them and the ``UNIQUE (schedule, scheduled_for)`` key
refuses a second claim of the same fire.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import NotFoundError
from .db import Store

ACTIVE = "claimed"  # a fire whose run is going (or about to), under its claimer's lease
QUEUED = "queued"  # due, waiting for the schedule's running fire to end (overlap: queue)
SKIPPED = "skipped"  # due while another fire of its schedule ran (overlap: skip)

# (scheduled_for, reason, status): a fire the scheduler decided on
Fire = tuple[float, str, str]


def add_schedule(store: Store, row: dict[str, Any]) -> None:
    """Insert a checked schedule; a name already taken is a ConflictError."""
    from ..errors import ConflictError

    with store.transaction() as db:
        if db.execute("SELECT 1 FROM schedules WHERE name = ?", (row["name"],)).fetchone():
            raise ConflictError(
                f"a schedule named '{row['name']}' already exists.",
                hint=f"Pick another name, or remove it first: mlops schedule rm {row['name']}.",
            )
        db.execute(
            "INSERT INTO schedules (name, target, compiled, cron, tz, parameters, enabled,"
            " catch_up, max_catch_up, overlap, pin, on_failure, next_fire, last_fire, created_at)"
            " VALUES (:name, :target, :compiled, :cron, :tz, :parameters, 1, :catch_up,"
            " :max_catch_up, :overlap, :pin, :on_failure, :next_fire, NULL, :created_at)",
            {**row, "parameters": json.dumps(row["parameters"], sort_keys=True)},
        )


def _row(row: Any) -> dict[str, Any]:
    found = dict(row)
    found["parameters"] = json.loads(found["parameters"])
    found["enabled"] = bool(found["enabled"])
    found["pin"] = bool(found["pin"])
    return found


def get_schedule(store: Store, name: str) -> dict[str, Any]:
    row = store.db.execute("SELECT * FROM schedules WHERE name = ?", (name,)).fetchone()
    if row is None:
        known = [r[0] for r in store.db.execute("SELECT name FROM schedules ORDER BY name")]
        raise NotFoundError(
            f"no schedule named '{name}'.",
            hint=(f"Schedules here: {', '.join(known)}." if known else "There are none yet.")
            + " Add one with mlops schedule add NAME NOTEBOOK --cron '0 2 * * *'.",
        )
    return _row(row)


def list_schedules(store: Store) -> list[dict[str, Any]]:
    return [_row(r) for r in store.db.execute("SELECT * FROM schedules ORDER BY name")]


def set_enabled(store: Store, name: str, enabled: bool, next_fire: float | None) -> None:
    """Pause or resume; a resumed schedule fires from ``next_fire`` on (nothing missed while
    paused is caught up: pausing said not to run)."""
    get_schedule(store, name)
    with store.transaction() as db:
        db.execute(
            "UPDATE schedules SET enabled = ?, next_fire = COALESCE(?, next_fire) WHERE name = ?",
            (int(enabled), next_fire, name),
        )


def remove_schedule(store: Store, name: str) -> None:
    """The schedule and its fire history; the runs it started stay (they are ordinary runs)."""
    get_schedule(store, name)
    with store.transaction() as db:
        db.execute("DELETE FROM fires WHERE schedule = ?", (name,))
        db.execute("DELETE FROM schedules WHERE name = ?", (name,))


def history(store: Store, name: str) -> list[dict[str, Any]]:
    get_schedule(store, name)
    return [
        dict(r)
        for r in store.db.execute(
            "SELECT * FROM fires WHERE schedule = ? ORDER BY scheduled_for DESC", (name,)
        )
    ]


def due_schedules(store: Store, now: float) -> list[str]:
    rows = store.db.execute(
        "SELECT name FROM schedules WHERE enabled = 1 AND next_fire <= ? ORDER BY next_fire",
        (now,),
    )
    return [r[0] for r in rows]


def next_due(store: Store) -> float | None:
    """The earliest time anything is due: a schedule's next fire, or a lease running out."""
    row = store.db.execute(
        "SELECT MIN(t) FROM (SELECT MIN(next_fire) AS t FROM schedules WHERE enabled = 1"
        " UNION ALL SELECT MIN(lease_expires) FROM fires WHERE status = ?)",
        (ACTIVE,),
    ).fetchone()
    return None if row[0] is None else float(row[0])


def decide_fires(
    store: Store,
    name: str,
    now: float,
    claimer: str,
    lease: float,
    decide: Callable[[dict[str, Any]], tuple[list[Fire], float]],
) -> list[int]:
    """In one transaction: read the schedule, let ``decide`` say which fires are due (and the
    next fire time), insert them, move ``next_fire`` on. Returns the ids of the fires this
    claimer now holds. A fire another scheduler inserted first is left to it."""
    mine: list[int] = []
    with store.transaction() as db:
        row = db.execute(
            "SELECT * FROM schedules WHERE name = ? AND enabled = 1 AND next_fire <= ?",
            (name, now),
        ).fetchone()
        if row is None:  # another scheduler moved it on first, or it was paused or removed
            return []
        fires, next_fire = decide(_row(row))
        for scheduled_for, reason, status in fires:
            claimed = status == ACTIVE
            cursor = db.execute(
                "INSERT OR IGNORE INTO fires (schedule, scheduled_for, fired_at, claimer,"
                " lease_expires, status, reason, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    scheduled_for,
                    now if status != QUEUED else None,
                    claimer if claimed else None,
                    now + lease if claimed else None,
                    status,
                    reason,
                    int(claimed),
                ),
            )
            if cursor.rowcount and claimed:
                mine.append(int(cursor.lastrowid or 0))
        db.execute(
            "UPDATE schedules SET next_fire = ?, last_fire = COALESCE(?, last_fire) WHERE name = ?",
            (next_fire, max((f[0] for f in fires), default=None), name),
        )
    return mine


def has_active(store: Store, name: str) -> bool:
    row = store.db.execute(
        "SELECT 1 FROM fires WHERE schedule = ? AND status = ? LIMIT 1", (name, ACTIVE)
    ).fetchone()
    return row is not None


def claim_queued(store: Store, now: float, claimer: str, lease: float) -> list[int]:
    """Claim the oldest queued fire of each schedule that has none running."""
    mine: list[int] = []
    with store.transaction() as db:
        rows = db.execute(
            "SELECT MIN(id) AS id FROM fires f WHERE status = ? AND NOT EXISTS"
            " (SELECT 1 FROM fires g WHERE g.schedule = f.schedule AND g.status = ?)"
            " GROUP BY schedule",
            (QUEUED, ACTIVE),
        ).fetchall()
        for r in rows:
            db.execute(
                "UPDATE fires SET status = ?, claimer = ?, lease_expires = ?, fired_at = ?,"
                " attempts = attempts + 1 WHERE id = ?",
                (ACTIVE, claimer, now + lease, now, r["id"]),
            )
            mine.append(int(r["id"]))
    return mine


def recover_expired(
    store: Store, now: float, claimer: str, lease: float, retries: int = 1
) -> tuple[list[int], list[str]]:
    """Fires whose claimer stopped renewing its lease (killed): each is taken over to run again
    while it has retries left, else recorded ``interrupted``. Returns (fires now this
    claimer's, the run ids the dead claimer left)."""
    mine: list[int] = []
    orphaned: list[str] = []
    with store.transaction() as db:
        rows = db.execute(
            "SELECT * FROM fires WHERE status = ? AND lease_expires < ?", (ACTIVE, now)
        ).fetchall()
        for r in rows:
            if r["run_id"]:
                orphaned.append(r["run_id"])
            if r["attempts"] <= retries:
                db.execute(
                    "UPDATE fires SET claimer = ?, lease_expires = ?, fired_at = ?,"
                    " attempts = attempts + 1, previous_run_id = COALESCE(run_id,"
                    " previous_run_id), run_id = NULL WHERE id = ?",
                    (claimer, now + lease, now, r["id"]),
                )
                mine.append(int(r["id"]))
            else:
                db.execute(
                    "UPDATE fires SET status = 'interrupted', lease_expires = NULL WHERE id = ?",
                    (r["id"],),
                )
    return mine, orphaned


def get_fire(store: Store, fire_id: int) -> dict[str, Any] | None:
    row = store.db.execute("SELECT * FROM fires WHERE id = ?", (fire_id,)).fetchone()
    return None if row is None else dict(row)


def renew(store: Store, claimer: str, fire_ids: Sequence[int], until: float) -> None:
    if not fire_ids:
        return
    marks = ", ".join("?" for _ in fire_ids)
    with store.transaction() as db:
        db.execute(
            f"UPDATE fires SET lease_expires = ? WHERE claimer = ? AND status = ?"
            f" AND id IN ({marks})",
            (until, claimer, ACTIVE, *fire_ids),
        )


def set_fire_run(store: Store, fire_id: int, run_id: str) -> None:
    with store.transaction() as db:
        db.execute("UPDATE fires SET run_id = ? WHERE id = ?", (run_id, fire_id))


def finish_fire(store: Store, fire_id: int, claimer: str, status: str) -> None:
    """The fire's end (its run's status); only while this claimer still holds it."""
    with store.transaction() as db:
        db.execute(
            "UPDATE fires SET status = ?, lease_expires = NULL WHERE id = ? AND claimer = ?",
            (status, fire_id, claimer),
        )
