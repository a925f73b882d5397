"""Durations as DESIGN.md writes them: 30s, 15m, 1h, 1d, 2w, or ISO 8601 (P1D, PT30M)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

_SHORT = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_ISO = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(value: object) -> timedelta | None:
    """Parse a duration; 0 or None mean 'no limit' and return None. Raises ValueError."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 1d or P1D, got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"expected a duration like 30s, 15m, 1h, 1d, 2w or P1D, got {value!r}")
        return timedelta(seconds=value) if value else None
    text = str(value).strip()
    if text in ("0", ""):
        return None
    m = _SHORT.match(text)
    if m:
        td = timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
        return td or None
    m = _ISO.match(text.upper())
    if m and any(m.groupdict().values()):
        td = timedelta(**{k: float(v) for k, v in m.groupdict().items() if v})
        return td or None
    raise ValueError(f"expected a duration like 30s, 15m, 1h, 1d, 2w or P1D, got {value!r}")


def format_duration(td: timedelta | None) -> str | None:
    """Shortest exact short form (86400s -> '1d'), for the registry and listings."""
    if td is None:
        return None
    seconds = int(td.total_seconds())
    if seconds == 0:
        return "0s"
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def to_utc(value: datetime | str) -> datetime:
    """A point in time: ISO string or datetime (a pandas Timestamp too); naive means UTC."""
    from featsql.errors import FeatsqlError

    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise FeatsqlError(f"'{value}' is not a timestamp; expected ISO 8601 such as"
                               " 2025-01-08T00:00:00") from None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if not isinstance(value, datetime):
        raise FeatsqlError(f"{value!r} is not a timestamp; expected a datetime or ISO 8601 text")
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
