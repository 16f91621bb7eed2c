"""slotwork's benchmark suite: slotwork against the bare Firestore floor, side by side.

Run with ``python -m benchmarks`` (or ``make bench``); never as timed tests in CI
(``tests/test_benchmarks_smoke.py`` only runs the code paths at a tiny size).
"""
