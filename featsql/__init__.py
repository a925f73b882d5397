"""featsql: a dbt-integrated, SQL-first feature store."""
from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["FeatureStore", "FeatsqlError", "__version__"]

if TYPE_CHECKING:
    from featsql.errors import FeatsqlError
    from featsql.store import FeatureStore


def __getattr__(name: str):
    # Lazy, so `featsql --help` and `import featsql` stay fast.
    if name == "FeatureStore":
        from featsql.store import FeatureStore

        return FeatureStore
    if name == "FeatsqlError":
        from featsql.errors import FeatsqlError

        return FeatsqlError
    raise AttributeError(name)
