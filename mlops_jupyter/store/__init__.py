"""The store: SQLite records (``db``, ``schema``), content-addressed values (``objects``), file
hashes (``hashing``), environment capture, garbage collection (``gc``: ``mlops gc`` and ``mlops
runs rm``) and health checks (``doctor``). Empty on purpose: a stage kernel imports ``objects``
and must not pay for sqlite3."""
