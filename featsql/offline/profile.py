"""Warehouse credentials through dbt's own profile loader, so env_var() and targets match `dbt run`."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from featsql.errors import FeatsqlError


def profiles_dir(config) -> Path:
    """dbt's lookup: featsql.yml's dbt.profiles_dir, DBT_PROFILES_DIR, the project, ~/.dbt."""
    if config.dbt_profiles_dir:
        return config.dbt_profiles_dir
    if os.environ.get("DBT_PROFILES_DIR"):
        return Path(os.environ["DBT_PROFILES_DIR"]).expanduser()
    if (config.dbt_project_dir / "profiles.yml").is_file():
        return config.dbt_project_dir
    return Path("~/.dbt").expanduser()


def project_profile_name(project_dir: Path) -> str:
    path = project_dir / "dbt_project.yml"
    try:
        project = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise FeatsqlError(f"{path}: no such file (dbt.project_dir in featsql.yml)") from None
    name = project.get("profile")
    if not name:
        raise FeatsqlError(f"{path}: no 'profile' key")
    return str(name)


def load_credentials(config) -> Any:
    """The adapter's Credentials object for the configured profile and target."""
    from dbt_common.context import set_invocation_context

    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.exceptions import DbtRuntimeError

    set_invocation_context(os.environ)
    directory = profiles_dir(config)
    name = config.dbt.profile or project_profile_name(config.dbt_project_dir)
    raw = read_profile(str(directory))
    if name not in raw:
        raise FeatsqlError(f"{directory / 'profiles.yml'}: no profile named '{name}'")
    try:
        target, data = Profile.render_profile(raw[name], name, config.dbt.target, ProfileRenderer({}))
        return Profile._credentials_from_profile(data, name, target)
    except DbtRuntimeError as e:
        msg = " ".join(str(e).replace("Runtime Error", "").split())
        raise FeatsqlError(f"{directory / 'profiles.yml'}: profile '{name}': {msg}") from None
