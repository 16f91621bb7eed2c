"""Where a project keeps what the local stack runs: its function source, its
Scheduler job definitions (Terraform's tfvars file) and the stack's run folders.

Inside this repository's checkout the defaults are this repository's
(``functions/``, ``terraform/processes.auto.tfvars.json``, ``.slotwork/run``)
wherever the command is started; anywhere else (a project made by
``slotwork init``) they are the same paths under the current directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# This repository's root when slotwork_local runs from its checkout (an editable
# install); inside an installed wheel this is site-packages' parent, not a checkout.
CHECKOUT = Path(__file__).resolve().parents[2]
JOBS = Path("terraform") / "processes.auto.tfvars.json"
RUNS = Path(".slotwork") / "run"


def is_checkout(root: Path) -> bool:
    """Whether ``root`` is this repository's checkout (the engine's source beside the stack's)."""
    engine, stack = root / "functions" / "slotwork", root / "infra" / "slotwork_local"
    return engine.is_dir() and stack.is_dir()


def project_root(cwd: Path) -> Path:
    """The checkout when ``cwd`` is in it, else ``cwd`` itself."""
    here = cwd.resolve()
    if is_checkout(CHECKOUT) and (here == CHECKOUT or CHECKOUT in here.parents):
        return CHECKOUT
    return here


@dataclass(frozen=True)
class Layout:
    """The default paths of one project."""

    root: Path

    @property
    def source(self) -> Path:
        """The function source directory: main.py, requirements.txt, the processes module."""
        return self.root / "functions"

    @property
    def jobs(self) -> Path:
        """The Scheduler job definitions Terraform deploys (and the local scheduler ticks)."""
        return self.root / JOBS

    @property
    def run_root(self) -> Path:
        """Where each run of the stack gets its folder."""
        return self.root / RUNS

    @property
    def is_checkout(self) -> bool:
        """Whether this is this repository's own layout (its demo and operator scripts)."""
        return is_checkout(self.root)


def default_layout(cwd: Path | None = None) -> Layout:
    """The layout of the project the current directory (or ``cwd``) belongs to."""
    return Layout(project_root(cwd or Path.cwd()))
