"""The catalogue of zoo nets (zoo/catalogue.yaml): load and validate.

Every error names the entry and the field, because a typo in one of 21
entries must not cost anyone a debugging session.
"""
import re
from dataclasses import dataclass, asdict
from functools import lru_cache
from pathlib import Path

import yaml

MODEL_NAMES = ("inception_v1", "inception_v2", "inception_v3", "inception_v4",
               "inception_resnet_v2", "mobilenet_v1", "mobilenet_v1_075",
               "mobilenet_v1_050", "mobilenet_v1_025")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_SHA = re.compile(r"^[0-9a-f]{64}$")
_FILE = re.compile(r"^[A-Za-z0-9_.-]+$")


class CatalogueError(ValueError):
    """A catalogue entry is malformed; the message names entry and field."""


@dataclass(frozen=True)
class Entry:
    """One net: where its checkpoint comes from and how to build it."""
    name: str
    model_name: str
    image_size: int
    num_classes: int
    input_node: str
    output_node: str
    input_range: tuple
    url: str
    tarball: str
    checkpoint: str
    checkpoint_format: str
    checkpoint_files: tuple
    sha256: str = None

    def as_dict(self):
        d = asdict(self)
        d["input_range"] = list(self.input_range)
        d["checkpoint_files"] = list(self.checkpoint_files)
        return d


def _check(cond, name, field, why):
    if not cond:
        raise CatalogueError(f"catalogue entry '{name}', field '{field}': {why}")


def _text(raw, name, field, pattern=None):
    value = raw.get(field)
    _check(isinstance(value, str) and value, name, field,
           f"must be a non-empty string, not {value!r}")
    if pattern is not None:
        _check(pattern.match(value), name, field, f"malformed value {value!r}")
    return value


def _entry(name, raw):
    _check(isinstance(raw, dict), name, "(entry)", "must be a mapping")
    known = set(Entry.__dataclass_fields__) - {"name"}
    for field in raw:
        _check(field in known, name, field, "unknown field")
    model = _text(raw, name, "model_name")
    _check(model in MODEL_NAMES, name, "model_name",
           f"{model!r} is not one of {', '.join(MODEL_NAMES)}")
    size = raw.get("image_size")
    _check(isinstance(size, int) and 32 <= size <= 1024, name, "image_size",
           f"must be an integer 32..1024, not {size!r}")
    classes = raw.get("num_classes")
    _check(classes == 1001, name, "num_classes",
           f"the zoo checkpoints have 1001 classes, not {classes!r}")
    lo_hi = raw.get("input_range")
    _check(isinstance(lo_hi, list) and len(lo_hi) == 2
           and all(isinstance(v, (int, float)) for v in lo_hi)
           and lo_hi[0] < lo_hi[1], name, "input_range",
           f"must be [low, high] with low < high, not {lo_hi!r}")
    url = _text(raw, name, "url")
    _check(url.startswith(("http://", "https://")), name, "url",
           "must be an http(s) URL")
    tarball = _text(raw, name, "tarball", _FILE)
    _check(url.rsplit("/", 1)[-1] == tarball, name, "tarball",
           f"must be the last part of the url ({url.rsplit('/', 1)[-1]})")
    fmt = raw.get("checkpoint_format")
    _check(fmt in ("v1", "v2"), name, "checkpoint_format",
           f"must be v1 or v2, not {fmt!r}")
    prefix = _text(raw, name, "checkpoint", _FILE)
    files = raw.get("checkpoint_files")
    _check(isinstance(files, list) and files
           and all(isinstance(f, str) and _FILE.match(f) for f in files),
           name, "checkpoint_files", "must be a list of plain file names")
    _check(all(f.startswith(prefix) for f in files), name, "checkpoint_files",
           f"every file must start with the checkpoint prefix {prefix!r}")
    if fmt == "v1":
        _check(files == [prefix], name, "checkpoint_files",
               "a v1 checkpoint is the one file named by 'checkpoint'")
    else:
        _check(prefix + ".index" in files, name, "checkpoint_files",
               "a v2 checkpoint needs its .index file")
    sha = raw.get("sha256")
    _check(sha is None or (isinstance(sha, str) and _SHA.match(sha)), name,
           "sha256", "must be null or 64 lower-case hex digits")
    return Entry(name=name, model_name=model, image_size=size,
                 num_classes=classes,
                 input_node=_text(raw, name, "input_node"),
                 output_node=_text(raw, name, "output_node"),
                 input_range=tuple(float(v) for v in lo_hi), url=url,
                 tarball=tarball, checkpoint=prefix, checkpoint_format=fmt,
                 checkpoint_files=tuple(files), sha256=sha)


def parse_catalogue(text, origin="catalogue"):
    """Entries by name, in file order, from the YAML text."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{origin}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("nets"), dict):
        raise CatalogueError(f"{origin}: expected a mapping 'nets:' of entries")
    entries = {}
    for name, body in raw["nets"].items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise CatalogueError(f"{origin}: bad entry name {name!r}")
        entries[name] = _entry(name, body)
    if not entries:
        raise CatalogueError(f"{origin}: no entries")
    return entries


@lru_cache(maxsize=8)
def _parse_cached(text, origin):
    return parse_catalogue(text, origin)


def load_catalogue(path=None):
    """Entries by name; parsed once per file content (tasks ask often)."""
    if path is None:
        from zoo.settings import load_settings
        path = load_settings().catalogue
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise CatalogueError(f"cannot read catalogue {path}: {exc}") from None
    return dict(_parse_cached(text, str(path)))


def get_entry(name, path=None):
    entries = load_catalogue(path)
    if name not in entries:
        raise CatalogueError(f"no net named '{name}' in the catalogue; "
                             f"known: {', '.join(entries)}")
    return entries[name]
