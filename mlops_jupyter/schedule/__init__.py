"""Schedules: cron times (cron.py), what a schedule is (model.py), and the loop that claims and
fires due times exactly once across processes (loop.py)."""
