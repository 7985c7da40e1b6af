"""Cron times: aliases, seconds, zones, and the DST days a 02:30 schedule meets (golden)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from mlops_jupyter.errors import MlopsError
from mlops_jupyter.schedule.cron import check_cron, check_zone, next_after, times_between


def stamp(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def following(expr: str, tz: str, start: str, n: int = 3) -> list[str]:
    out, t = [], stamp(start)
    for _ in range(n):
        t = next_after(expr, tz, t)
        out.append(datetime.fromtimestamp(t, ZoneInfo(tz)).isoformat())
    return out


# A daily 02:30 on the days the clocks change: on spring-forward 02:30 does not exist and the
# fire comes at the first minute after the gap (03:00 summer time), once; on fall-back 02:30
# happens twice and the schedule fires once, at the first (summer-time) one.
GOLDEN = [
    (
        "Europe/Berlin",
        "2026-03-28T12:00:00+01:00",
        ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00"],
    ),
    (
        "Europe/Berlin",
        "2026-10-24T12:00:00+02:00",
        ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00", "2026-10-27T02:30:00+01:00"],
    ),
    (
        "America/New_York",
        "2026-03-07T12:00:00-05:00",
        ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"],
    ),
    (
        "America/New_York",
        "2026-10-31T12:00:00-04:00",
        ["2026-11-01T02:30:00-05:00", "2026-11-02T02:30:00-05:00", "2026-11-03T02:30:00-05:00"],
    ),
]


@pytest.mark.parametrize(("tz", "start", "expected"), GOLDEN)
def test_a_0230_daily_schedule_across_dst(tz: str, start: str, expected: list[str]) -> None:
    assert following("30 2 * * *", tz, start) == expected


def test_the_fall_back_day_fires_once_not_twice() -> None:
    # 2026-10-25 00:00..2026-10-26 00:00 Berlin is 25 hours long; 02:30 is in it twice
    day = times_between(
        "30 2 * * *",
        "Europe/Berlin",
        stamp("2026-10-25T00:00:00+02:00"),
        stamp("2026-10-26T00:00:00+01:00"),
        10,
    )
    assert len(day) == 1


def test_the_same_expression_is_local_time_in_each_zone() -> None:
    start = "2026-05-31T12:00:00+00:00"  # 21:00 in Tokyo, 08:00 in New York
    assert following("0 9 * * *", "Asia/Tokyo", start, 1) == ["2026-06-01T09:00:00+09:00"]
    assert following("0 9 * * *", "UTC", start, 1) == ["2026-06-01T09:00:00+00:00"]
    assert following("0 9 * * *", "America/New_York", start, 1) == ["2026-05-31T09:00:00-04:00"]


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("@hourly", "2026-06-01T13:00:00+00:00"),
        ("@daily", "2026-06-02T00:00:00+00:00"),
        ("@weekly", "2026-06-07T00:00:00+00:00"),  # Sunday
        ("@monthly", "2026-07-01T00:00:00+00:00"),
        ("@yearly", "2027-01-01T00:00:00+00:00"),
    ],
)
def test_aliases(alias: str, expected: str) -> None:
    assert check_cron(alias) == alias
    assert following(alias, "UTC", "2026-06-01T12:34:56+00:00", 1) == [expected]


def test_six_fields_put_seconds_first() -> None:
    got = following("*/20 * * * * *", "UTC", "2026-06-01T12:00:05+00:00")
    assert got == [
        "2026-06-01T12:00:20+00:00",
        "2026-06-01T12:00:40+00:00",
        "2026-06-01T12:01:00+00:00",
    ]


def test_times_between_keeps_the_latest_and_walks_back_only_that_far() -> None:
    week_ago, now = stamp("2026-06-01T00:00:00+00:00"), stamp("2026-06-08T00:00:00+00:00")
    got = times_between("* * * * * *", "UTC", week_ago, now, 3)  # 604,800 times, 3 asked
    assert got == [now - 2, now - 1, now]
    assert times_between("0 0 * * *", "UTC", week_ago, now, 100) == [
        week_ago + 86400 * d for d in range(1, 8)
    ]


@pytest.mark.parametrize(
    ("expr", "needle"),
    [
        ("* * *", "has 3 fields; it needs 5 or 6"),
        ("* * * * * * *", "has 7 fields"),
        ("61 * * * *", "is not valid"),
        ("@fortnightly", "unknown cron alias"),
        ("", "empty"),
    ],
)
def test_a_bad_expression_says_what_a_good_one_looks_like(expr: str, needle: str) -> None:
    with pytest.raises(MlopsError) as caught:
        check_cron(expr)
    assert needle in str(caught.value)
    assert "'30 2 * * *' for 02:30" in str(caught.value)


@pytest.mark.parametrize("name", ["Mars/Base", "../etc/passwd", "/etc/localtime"])
def test_an_unknown_zone(name: str) -> None:
    with pytest.raises(MlopsError, match=r"unknown time zone .* Europe/Berlin"):
        check_zone(name)


def test_the_default_zone_is_the_machines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    assert check_zone(None) == "Europe/Berlin"
    monkeypatch.delenv("TZ")
    assert ZoneInfo(check_zone(None))  # /etc/localtime's zone, or UTC
