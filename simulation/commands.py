"""What the analysis commands share (``slsim-compare``, ``slsim-sensitivity``, and any other
command that takes a sweep folder): settings read from the command line into a schema dataclass,
so the schema's checks (:func:`simulation.params.validate`) run before anything else; and
expected errors written as one line naming the command, with exit code 2, never a traceback.

argparse only parses: the settings' defaults, ranges and allowed values live in the dataclass
(declared with :func:`~simulation.params.param` and :func:`~simulation.params.choice`), and
:func:`setting_help` writes each option's help from them.
"""

import argparse
import contextlib
import dataclasses
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BAD_INPUT = 2  # exit code of a command stopped by its input (argparse's own, too)


def progress_logging(prefix: str = "") -> None:
    """Timestamped progress lines at INFO; Mesa's own logger only from WARNING, since it logs
    every step of every run at INFO."""
    logging.basicConfig(level=logging.INFO, format=f"[%(asctime)s] {prefix}%(message)s")
    logging.getLogger("MESA").setLevel(logging.WARNING)


def sweep_parser(prog: str, description: str,
                 folder_help: str = "the sweep's folder (its hydra.sweep.dir)"
                 ) -> argparse.ArgumentParser:
    """A command's parser whose first argument is a sweep folder (``sweep_dir``); its other
    options are left out of the parsed namespace unless given (``argparse.SUPPRESS``), so a
    settings dataclass keeps the one copy of their defaults."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     argument_default=argparse.SUPPRESS)
    parser.add_argument("sweep_dir", type=Path, help=folder_help)
    return parser


def comma_list(text: str) -> list[str]:
    """An option's comma-separated names, as a list (blanks dropped)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def setting_help(cls: type, name: str, words: str = "") -> str:
    """Help of the option that sets field ``name`` of the settings dataclass ``cls``: ``words``
    (or the field's doc), its allowed range or values, and its default."""
    spec = next(f for f in dataclasses.fields(cls) if f.name == name)
    text = words or spec.metadata.get("doc", "").rstrip(".")
    if "range" in spec.metadata:
        low, high = (f"{v:,}" if isinstance(v, int) else f"{v:g}"
                     for v in spec.metadata["range"])
        text += f"; {low} to {high} {spec.metadata['unit']}"
    elif "choices" in spec.metadata:
        text += f"; one of {', '.join(map(str, spec.metadata['choices']))}"
    default = (spec.default_factory() if spec.default is dataclasses.MISSING
               else spec.default)
    if isinstance(default, list):
        default = ",".join(map(str, default)) or "none"
    text += "" if default is None else f" (default {default})"
    return text.replace("%", "%%")  # argparse expands %-formats in help


def settings_from(cls: type, namespace: argparse.Namespace) -> Any:
    """The settings dataclass ``cls`` from the options given on the command line (the others
    keep the dataclass's defaults); its ``__post_init__`` validates it."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in vars(namespace).items() if k in names})


@contextlib.contextmanager
def reported_errors(prog: str, *expected: type[BaseException]) -> Iterator[None]:
    """Run the body; an ``expected`` error ends the command with one line on stderr
    (``prog: message``) and exit code :data:`BAD_INPUT`."""
    try:
        yield
    except expected as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        sys.exit(BAD_INPUT)
