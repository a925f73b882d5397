"""Warehouses (the offline store): one class per dbt adapter type, chosen from the dbt profile."""
from __future__ import annotations

from featsql.offline.base import Warehouse, for_dialect, warehouse_class

__all__ = ["Warehouse", "warehouse_class", "for_dialect", "connect"]


def connect(config) -> Warehouse:
    """Open the warehouse named by featsql.yml's dbt profile and target."""
    from featsql.offline.profile import load_credentials

    creds = load_credentials(config)
    return warehouse_class(creds.type)(creds, project_dir=config.dbt_project_dir)
