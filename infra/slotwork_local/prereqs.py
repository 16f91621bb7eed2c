"""Check the machine has what slotwork's local commands need, with a clear message if not."""

from __future__ import annotations

import shutil
import sys

from slotwork_local.emulator import EmulatorError, emulator_jar


def problems(*, run_only: bool = False) -> list[str]:
    """What is missing, one line each (empty when all is there).

    ``run_only``: only what ``make run`` needs (the checks of ``make test`` also
    need Terraform)."""
    found: list[str] = []
    if shutil.which("java") is None:
        found.append("java not found: the Firestore emulator needs Java 17 or newer")
    try:
        emulator_jar()
    except EmulatorError as err:
        found.append(str(err))
    if not run_only and shutil.which("terraform") is None:
        found.append("terraform not found: the checks run `terraform fmt` (Terraform 1.5+)")
    return found


def main(argv: list[str] | None = None) -> int:
    """Print what is missing; exit 1 if anything is. ``--run``: only what ``make run`` needs."""
    args = sys.argv[1:] if argv is None else argv
    missing = problems(run_only="--run" in args)
    for line in missing:
        print(f"missing prerequisite: {line}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
