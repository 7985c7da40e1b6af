"""The store: SQLite records (``db``, ``schema``), content-addressed values (``objects``), file
hashes (``hashing``), environment capture and garbage collection. Empty on purpose: a stage
kernel imports ``objects`` and must not pay for sqlite3."""
