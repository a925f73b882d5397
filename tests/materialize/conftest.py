"""`recent_repo`: the example repo with its feature rows moved so the newest is 30 minutes old,
so ttl-limited views (1d, 12h) are PRESENT when read now."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

TABLES = {"driver_hourly_stats": ["event_timestamp", "created"], "location_stats": ["event_timestamp"]}


@pytest.fixture
def recent_repo(repo: Path) -> tuple[Path, datetime]:
    """(repo, now): rows shifted by whole seconds so max(event_timestamp) = now - 30 min (UTC)."""
    now = datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None)
    with duckdb.connect(str(repo / "data" / "warehouse.duckdb")) as con:
        for name, cols in TABLES.items():
            newest = con.execute(f'select max(event_timestamp) from main."{name}"').fetchone()[0]
            shift = int((now - timedelta(minutes=30) - newest).total_seconds())
            sets = ", ".join(f'"{c}" = "{c}" + to_seconds({shift})' for c in cols)
            con.execute(f'update main."{name}" set {sets}')
    return repo, now.replace(tzinfo=timezone.utc)
