"""``mlops gc``: remove value objects that no run and no cache entry refers to."""

from __future__ import annotations

import time

from .db import Store

# Objects younger than this may belong to a run still writing them.
GRACE_SECONDS = 3600


def collect(store: Store, dry_run: bool = False) -> tuple[int, int]:
    keep = store.referenced_objects()
    removed = freed = 0
    if not store.objects.is_dir():
        return 0, 0
    cutoff = time.time() - GRACE_SECONDS
    for path in store.objects.glob("*/*"):
        key = path.parent.name + path.name
        stat = path.stat()
        stale_temp = path.name.startswith(".") and stat.st_mtime < cutoff
        if (key not in keep and stat.st_mtime < cutoff) or stale_temp:
            removed += 1
            freed += stat.st_size
            if not dry_run:
                path.unlink(missing_ok=True)
    return removed, freed
