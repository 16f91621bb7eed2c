"""Check the machine has what slotwork's local commands need, with a clear message if not."""

from __future__ import annotations

import shutil
import sys

from slotwork_local.emulator import EmulatorError, emulator_jar


def problems() -> list[str]:
    """What is missing, one line each (empty when all is there)."""
    found: list[str] = []
    if shutil.which("java") is None:
        found.append("java not found: the Firestore emulator needs Java 17 or newer")
    try:
        emulator_jar()
    except EmulatorError as err:
        found.append(str(err))
    if shutil.which("terraform") is None:
        found.append("terraform not found: the checks run `terraform fmt` (Terraform 1.5+)")
    return found


def main() -> int:
    missing = problems()
    for line in missing:
        print(f"missing prerequisite: {line}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
