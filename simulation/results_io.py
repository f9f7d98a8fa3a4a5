"""Results on disk: atomic writes, config hashing and package versions.

Every file is written to a temporary name in the same folder and renamed into place, so a run
killed part-way never leaves a half-written file. Tables are Parquet, records JSON: no pickles.
"""

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from .layout import TEMPORARY_SUFFIX, temporary_prefix

_UMASK = os.umask(0)
os.umask(_UMASK)
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


def write_parquet(path: Path, frame: pd.DataFrame) -> Path:
    """Write a DataFrame as Parquet, atomically."""
    return _atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))


def write_figure(path: Path, figure) -> Path:
    """Save a matplotlib figure as PNG, atomically."""
    return _atomic(path, lambda tmp: figure.savefig(tmp, format="png", dpi=110))


def config_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as plain, JSON-ready data."""
    return dataclasses.asdict(config)


def config_hash(config: Any) -> str:
    """SHA-256 (first 16 hex digits) of the canonical JSON of a resolved config, seed included."""
    canonical = json.dumps(config_dict(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape a result."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
