"""Regenerate the Python code of the state schema (``make proto``).

``--check`` regenerates into a temporary folder and fails when the
committed code differs, so CI notices a .proto edited without regenerating.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "functions" / "slotwork" / "schema"
PROTO = "slotwork.proto"
OUTPUTS = ("slotwork_pb2.py", "slotwork_pb2.pyi")


def generate(out_dir: Path) -> None:
    """Run protoc on the schema, writing the generated modules to ``out_dir``."""
    include = Path(protoc.__file__).parent / "_proto"
    code = protoc.main(
        [
            "protoc",
            f"-I{SCHEMA_DIR}",
            f"-I{include}",
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            str(SCHEMA_DIR / PROTO),
        ]
    )
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")


def main(argv: list[str] | None = None) -> int:
    """Regenerate, or with --check compare against the committed code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if not args.check:
        generate(SCHEMA_DIR)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        stale = [
            n for n in OUTPUTS if not filecmp.cmp(Path(tmp) / n, SCHEMA_DIR / n, shallow=False)
        ]
    if stale:
        print(f"generated code is stale, run `make proto`: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
