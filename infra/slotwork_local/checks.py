"""The project's test command (``make test``, called by ``.ci/run``): generated code
is current, lint, types, Terraform format and policy, then pytest.

Every step runs even after a failure, so one run shows every problem; the
exit code is non-zero if any failed. Extra arguments go to pytest.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TOOLS_BIN = ROOT / ".venv-tools" / "bin"  # checkov's own venv (see the Makefile)


def steps(pytest_args: list[str]) -> list[tuple[str, list[str]]]:
    """(name, command) of every check, in order."""
    return [
        (
            "generated proto code is current",
            [sys.executable, "-m", "slotwork_local.proto", "--check"],
        ),
        ("ruff", [str(BIN / "ruff"), "check", "."]),
        ("mypy", [str(BIN / "mypy")]),
        ("terraform fmt", ["terraform", "fmt", "-check", "-recursive", "terraform"]),
        (
            "checkov",
            [
                str(TOOLS_BIN / "checkov"),
                "-d",
                "terraform",
                "--framework",
                "terraform",
                "--skip-download",
                "--quiet",
                "--compact",
            ],
        ),
        ("pytest", [sys.executable, "-m", "pytest", *pytest_args]),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run every step; print a summary; non-zero if any failed."""
    pytest_args = list(sys.argv[1:] if argv is None else argv)
    failed: list[str] = []
    for name, command in steps(pytest_args):
        print(f"==> {name}: {' '.join(command)}", flush=True)
        started = time.monotonic()
        try:
            code = subprocess.call(command, cwd=ROOT)
        except FileNotFoundError as err:
            print(f"cannot run {command[0]}: {err}", file=sys.stderr)
            code = 127
        took = time.monotonic() - started
        print(
            f"<== {name}: {'ok' if code == 0 else f'FAILED ({code})'} in {took:.1f} s", flush=True
        )
        if code != 0:
            failed.append(name)
    if failed:
        print(f"checks failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
