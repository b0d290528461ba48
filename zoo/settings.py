"""Global pipeline settings from pipeline.yaml (validated, with env overrides)."""
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("official", "synthetic")


class SettingsError(ValueError):
    """pipeline.yaml is missing, malformed or out of range."""


@dataclass(frozen=True)
class Settings:
    artifact_root: Path
    catalogue: Path
    checksum_lock: Path
    source: str = "official"
    shaves: int = 12
    seed: int = 0
    download: dict = field(default_factory=dict)


def settings_path():
    return Path(os.environ.get("ZOO_TO_STICK_SETTINGS",
                               REPO_ROOT / "pipeline.yaml"))


@lru_cache(maxsize=None)
def _load(path, artifacts_env, catalogue_env):
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"cannot read settings {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise SettingsError(f"{path}: expected a mapping of settings")
    base = Path(path).resolve().parent

    def where(key, env):
        value = env or raw.get(key)
        if not isinstance(value, str) or not value:
            raise SettingsError(f"{path}: '{key}' must be a path")
        return (base / value).resolve()

    shaves = raw.get("shaves", 12)
    if not isinstance(shaves, int) or not 1 <= shaves <= 12:
        raise SettingsError(f"{path}: 'shaves' must be 1..12, not {shaves!r}")
    source = raw.get("source", "official")
    if not isinstance(source, str) or not source:
        raise SettingsError(f"{path}: 'source' must be a string")
    return Settings(artifact_root=where("artifact_root", artifacts_env),
                    catalogue=where("catalogue", catalogue_env),
                    checksum_lock=where("checksum_lock", None),
                    source=source, shaves=shaves,
                    seed=int(raw.get("seed", 0)),
                    download=dict(raw.get("download") or {}))


def load_settings():
    """The settings in force for this process (cached per file and env)."""
    return _load(str(settings_path()),
                 os.environ.get("ZOO_TO_STICK_ARTIFACTS"),
                 os.environ.get("ZOO_TO_STICK_CATALOGUE"))
