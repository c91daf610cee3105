"""Maintenance windows: a cron schedule opens a window for a duration, in an IANA time zone."""

from __future__ import annotations

import datetime
import zoneinfo

from croniter import croniter

from kcost.api.v1alpha1.common import parse_duration
from kcost.api.v1alpha1.policy import MaintenanceWindow


def _zone(window: MaintenanceWindow) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(window.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            f"timeZone: {window.time_zone!r} is not an IANA time zone; expected one such as Europe/Berlin"
        ) from error


def _cron(window: MaintenanceWindow, start: datetime.datetime) -> croniter:
    try:
        return croniter(window.schedule, start)
    except ValueError as error:  # croniter's errors are ValueErrors
        raise ValueError(f"schedule: {window.schedule!r} is not a cron schedule ({error})") from error


def _last_opening(window: MaintenanceWindow, now: datetime.datetime) -> datetime.datetime:
    local_now = now.astimezone(_zone(window))
    # croniter counts from the second after: a window opening exactly now has opened.
    opened: datetime.datetime = _cron(window, local_now + datetime.timedelta(seconds=1)).get_prev(datetime.datetime)
    return opened


def is_open(windows: list[MaintenanceWindow], now: datetime.datetime) -> bool:
    """No windows means any time; otherwise ``now`` must fall inside one."""
    if not windows:
        return True
    return any(now < _last_opening(w, now) + parse_duration(w.duration) for w in windows)


def next_opening(windows: list[MaintenanceWindow], now: datetime.datetime) -> datetime.datetime | None:
    """When changes may start next (``now`` while a window is open); None when there are no windows."""
    if not windows:
        return None
    if is_open(windows, now):
        return now
    return following_opening(windows, now)


def following_opening(windows: list[MaintenanceWindow], now: datetime.datetime) -> datetime.datetime | None:
    """When a window next opens after ``now``, whether or not one is open now; None when there are no windows.

    Errors name the window's field (``timeZone: …``, ``schedule: …``) for the caller to place.
    """
    openings = []
    for window in windows:
        following: datetime.datetime = _cron(window, now.astimezone(_zone(window))).get_next(datetime.datetime)
        openings.append(following.astimezone(datetime.UTC))
    return min(openings, default=None)
