"""``python -m benchmarks`` (``make bench``): measure slotwork against the floor and
write the results table (``benchmarks/results.md`` by default).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import parallel, registration, report, scale, suite

HERE = Path(__file__).resolve().parent


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be integers: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="slotwork against the bare Firestore floor, on the local emulator.",
    )
    p.add_argument(
        "--sizes",
        type=_sizes,
        default=[1_000, 10_000, 100_000],
        help="item counts for the overhead and memory figures (default 1000,10000,100000)",
    )
    p.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement; medians (default 3)"
    )
    p.add_argument(
        "--million",
        action="store_true",
        help="also the scale figure: 1,000,000 registered items (long)",
    )
    p.add_argument("--scale-items", type=int, default=scale.ITEMS, help=argparse.SUPPRESS)
    p.add_argument(
        "--profile",
        action="store_true",
        help="profile a 10,000-item tick with pyinstrument (benchmarks/profile.txt)",
    )
    p.add_argument("--profile-dir", type=Path, default=HERE, help=argparse.SUPPRESS)
    p.add_argument(
        "--profile-html",
        type=Path,
        default=None,
        help="with --profile, also write pyinstrument's HTML profile there (tens of MB)",
    )
    p.add_argument(
        "--budget-minutes",
        type=float,
        default=14.0,
        help="repeats of sizes >= 50,000 beyond the first run only while the whole "
        "run fits in this (0: no limit; default 14)",
    )
    p.add_argument(
        "--registration-items", type=int, default=registration.BATCH_ITEMS, help=argparse.SUPPRESS
    )
    p.add_argument(
        "--single-items", type=int, default=registration.SINGLE_ITEMS, help=argparse.SUPPRESS
    )
    p.add_argument("--resume-deadline", type=float, default=None, help=argparse.SUPPRESS)
    p.add_argument("--in-tick-items", type=int, default=parallel.IN_TICK_ITEMS,
                   help=argparse.SUPPRESS)  # fmt: skip
    p.add_argument("--shard-items", type=int, default=parallel.SHARD_ITEMS, help=argparse.SUPPRESS)
    p.add_argument("--rate-items", type=int, default=parallel.RATE_ITEMS, help=argparse.SUPPRESS)
    p.add_argument(
        "--baseline",
        metavar="REV",
        default=None,
        help="also compare the no-op tick with slotwork at this git revision, in the same run",
    )
    p.add_argument("--baseline-items", type=int, default=10_000, help=argparse.SUPPRESS)
    p.add_argument(
        "--host", default=None, help="use a running emulator at HOST:PORT instead of starting one"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=HERE / "results.md",
        help="where to write the results (default benchmarks/results.md)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.repeat < 1:
        parser().error("--repeat must be at least 1")
    started = time.monotonic()
    header = report.machine()
    options = suite.Options(
        sizes=args.sizes,
        repeat=args.repeat,
        million=args.million,
        scale_items=args.scale_items,
        profile=args.profile,
        profile_dir=args.profile_dir,
        profile_html=args.profile_html,
        budget_seconds=args.budget_minutes * 60 if args.budget_minutes > 0 else None,
        registration_items=args.registration_items,
        single_items=args.single_items,
        resume_deadline=args.resume_deadline,
        host=args.host,
        in_tick_items=args.in_tick_items,
        shard_items=args.shard_items,
        rate_items=args.rate_items,
        baseline_revision=args.baseline,
        baseline_items=args.baseline_items,
    )
    sections = suite.run(options)
    command = "python -m benchmarks " + shlex.join(
        a for a in (argv if argv is not None else sys.argv[1:])
    )
    text = report.render(
        sections, header, header["load"], command.strip(), time.monotonic() - started
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    print(f"written to {args.out} in {(time.monotonic() - started) / 60:.1f} min", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
