"""Versions of the tools and of our own code that determine each step's output.

Read from package metadata and source files, never by importing TensorFlow:
a no-op rerun must stay fast.
"""
import hashlib
import platform
from functools import lru_cache
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

PACKAGES = ("tensorflow", "tf-keras", "tf-slim", "numpy", "protobuf", "luigi",
            "requests", "PyYAML")


@lru_cache(maxsize=None)
def package_version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def tool_versions(*names):
    names = names or PACKAGES
    out = {n: package_version(n) for n in names}
    out["python"] = platform.python_version()
    return out


@lru_cache(maxsize=None)
def code_digest(*paths):
    """sha256 over our own source files (relative to the repo), in order."""
    h = hashlib.sha256()
    for rel in paths:
        base = REPO_ROOT / rel
        files = sorted(base.rglob("*.py")) if base.is_dir() else [base]
        for f in files:
            h.update(str(f.relative_to(REPO_ROOT)).encode() + b"\0")
            h.update(f.read_bytes())
    return h.hexdigest()
