"""`featsql init`: copy a template feature repo (the `local` one is models_example/)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from featsql.errors import FeatsqlError

_ROOT = Path(__file__).resolve().parent
_IGNORE = shutil.ignore_patterns("target", "dbt_packages", "logs", "*.duckdb*", "*.db", "registry.json",
                                 "__pycache__", ".user.yml", "package-lock.yml")


def template_dirs() -> dict[str, Path]:
    """Templates shipped in the wheel (featsql/templates/*) or, in a checkout, models_example/."""
    found = {p.name: p for p in sorted((_ROOT / "templates").glob("*")) if p.is_dir()}
    checkout = _ROOT.parent / "models_example"
    if "local" not in found and checkout.is_dir():
        found["local"] = checkout
    return found


def init_repo(name: str, template: str = "local") -> Path:
    templates = template_dirs()
    if template not in templates:
        raise FeatsqlError(f"unknown template '{template}'; available: {', '.join(sorted(templates))}")
    dest = Path(name)
    if dest.exists() and any(dest.iterdir()):
        raise FeatsqlError(f"{dest}: already exists and is not empty")
    shutil.copytree(templates[template], dest, ignore=_IGNORE, dirs_exist_ok=True)
    (dest / "data").mkdir(exist_ok=True)
    project = re.sub(r"\W", "_", dest.resolve().name).strip("_") or "feature_repo"
    if project[0].isdigit():
        project = f"repo_{project}"
    cfg = dest / "featsql.yml"
    cfg.write_text(re.sub(r"^project: .*$", f"project: {project}", cfg.read_text(), count=1, flags=re.M))
    return dest
