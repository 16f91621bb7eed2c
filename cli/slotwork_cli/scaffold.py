"""``slotwork init DIR``: a new project of your own, written from the template
that ships with slotwork (``slotwork_cli/template``).

The project holds its functions (``main.py``, ``processes.py`` with an example
process, ``requirements.txt``), a test of the example worker, a Terraform root
that calls the slotwork module (copied in, as of this slotwork version), the
jobs file the local stack ticks, and a Makefile with ``make run`` and ``make test``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from importlib.metadata import version
from pathlib import Path, PurePath

TEMPLATE = Path(__file__).resolve().parent / "template"
DISTRIBUTION = "slotwork"
# Package data is collected with glob("*"), which skips dotfiles: such files are
# stored without their dot and renamed on the way out.
RENAMES = {"gitignore": ".gitignore"}
# What running the template's own tests or Terraform in place may leave behind.
SKIPPED = frozenset({"__pycache__", ".pytest_cache", ".hypothesis", ".terraform", ".build"})
# The module is copied byte for byte; the project's own files get the placeholders filled.
VERBATIM = PurePath("terraform", "modules")


class InitError(Exception):
    """The directory cannot take a new project; the message says why (exit status 2)."""


def wheel_name(slotwork_version: str) -> str:
    """The file name of slotwork's wheel of ``slotwork_version`` (pure Python, any platform)."""
    return f"slotwork-{slotwork_version}-py3-none-any.whl"


def check_target(target: Path) -> None:
    """Refuse a path that is a file, or a directory with anything in it."""
    if target.exists() and not target.is_dir():
        raise InitError(f"{target} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()):
        raise InitError(f"{target} is not empty: give a new or an empty directory")


def template_files(template: Path = TEMPLATE) -> Iterator[PurePath]:
    """The template's files, relative to it, following the link to the module in a checkout."""
    for folder, dirs, files in os.walk(template, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED)
        here = Path(folder).relative_to(template)
        for name in sorted(files):
            if not name.endswith(".pyc"):
                yield PurePath(here, name)


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with every ``{{name}}`` replaced by its value."""
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    return text


def init(
    target: Path,
    *,
    wheel: Path | None = None,
    slotwork_version: str | None = None,
    template: Path = TEMPLATE,
) -> list[Path]:
    """Write a new project into ``target`` (created if missing); answer the files written.

    ``wheel``, a slotwork wheel, is copied into ``functions/vendor/`` and named by
    ``functions/requirements.txt``; without it, requirements.txt names the wheel of
    this slotwork version for you to put there (or an index to use instead).
    """
    check_target(target)
    if wheel is not None and not wheel.is_file():
        raise InitError(f"--wheel {wheel}: no such file")
    slotwork_version = slotwork_version or version(DISTRIBUTION)
    values = {
        "project_name": target.resolve().name,
        "slotwork_version": slotwork_version,
        "slotwork_wheel": wheel.name if wheel else wheel_name(slotwork_version),
    }
    written: list[Path] = []
    target.mkdir(parents=True, exist_ok=True)
    for relative in template_files(template):
        dest = target / relative.parent / RENAMES.get(relative.name, relative.name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        source = template / relative
        if relative.is_relative_to(VERBATIM):
            shutil.copyfile(source, dest)
        else:
            dest.write_text(fill(source.read_text(encoding="utf-8"), values), encoding="utf-8")
        written.append(dest)
    if wheel is not None:
        vendored = target / "functions" / "vendor" / wheel.name
        vendored.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wheel, vendored)
        written.append(vendored)
    return written
