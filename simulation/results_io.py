"""Results on disk: atomic writes, config hashing and package versions.

Every file is written to a temporary name in the same folder and renamed into place, so a run
killed part-way never leaves a half-written file. Tables are Parquet, records JSON: no pickles.
A config travels as plain data (:func:`config_dict`) and back (:func:`config_from_dict`), its
hash checking the round trip.
"""

import dataclasses
import functools
import hashlib
import json
import os
import tempfile
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .layout import TEMPORARY_SUFFIX, temporary_prefix

_UMASK = os.umask(0)
os.umask(_UMASK)
if TYPE_CHECKING:  # pandas is imported by whoever hands over a frame
    import pandas as pd

PACKAGES = ("slsim", "mesa", "numpy", "networkx", "hydra-core", "pandas", "pyarrow")


def _atomic(path: Path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temporary_prefix(path.name),
                               suffix=TEMPORARY_SUFFIX)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_streamed(path: Path, write: Callable[[str], Any]) -> Path:
    """Write ``path`` atomically by calling ``write(temporary_path)``: for writers that stream."""
    return _atomic(path, write)


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as indented, key-sorted JSON, atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    return _atomic(path, lambda tmp: Path(tmp).write_text(text))


def write_parquet(path: Path, frame: "pd.DataFrame") -> Path:
    """Write a DataFrame as Parquet, atomically."""
    return _atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))


# zlib's fastest level: the same pixels as the default level (6), a file some 7% larger, encoded
# in about 30% less time.
PNG_COMPRESSION = 1


def write_figure(path: Path, figure) -> Path:
    """Save a matplotlib figure as PNG, atomically."""
    return _atomic(path, lambda tmp: figure.savefig(
        tmp, format="png", dpi=110, pil_kwargs={"compress_level": PNG_COMPRESSION}))


def config_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as plain, JSON-ready data."""
    return dataclasses.asdict(config)


def config_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """The dataclass tree ``cls`` from the plain data :func:`config_dict` made of it (its
    inverse; each dataclass's ``__post_init__`` runs, so a root config validates itself)."""
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _typed(hints[f.name], data[f.name])
                  for f in dataclasses.fields(cls) if f.init and f.name in data})


def _typed(hint: Any, value: Any) -> Any:
    """``value`` (plain data) as type ``hint``: dataclasses rebuilt, lists element by element."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return config_from_dict(hint, value)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list and args and isinstance(value, list):
        return [_typed(args[0], item) for item in value]
    if origin in (typing.Union, types.UnionType) and value is not None:
        kinds = [arg for arg in args if arg is not type(None)]
        return _typed(kinds[0], value) if len(kinds) == 1 else value
    return value


def config_hash(config: Any) -> str:
    """SHA-256 (first 16 hex digits) of the canonical JSON of a resolved config, seed included;
    ``config`` is the dataclass or the plain data :func:`config_dict` made of it."""
    data = config if isinstance(config, dict) else config_dict(config)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    from importlib import metadata  # only where a result is recorded

    versions = []
    for name in PACKAGES:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "not installed"))
    return tuple(versions)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape a result (read once a process)."""
    return dict(_versions())

