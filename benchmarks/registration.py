"""Registration: items per second through ``App.register_many`` (what the API's
``work:batchRegister`` calls), through ``App.register`` one item at a time, and
the floor: plain batched creates of the same documents, 500 per commit.
"""

from __future__ import annotations

from datetime import UTC, datetime

import slotwork
from benchmarks import fixtures as fx
from benchmarks.report import Section, Table, fmt

BATCH_ITEMS = 2_000
SINGLE_ITEMS = 100


def _floor(bench: fx.Bench, process: str, items: int) -> None:
    """Plain-client batched creates of 500, the registry's document shape."""
    work = fx.work_collection(bench.client, process)
    now = datetime.now(UTC)
    for lo in range(0, items, fx.SEED_BATCH):
        batch = bench.client.batch()
        for i in range(lo, min(lo + fx.SEED_BATCH, items)):
            name = fx.item_name(i)
            batch.create(work.document(name), fx.item_doc(name, i, now))
        batch.commit()


API_BATCH = 500  # items per batchRegister request (the API's limit)


def _http_batches(app: slotwork.App, process: str, items: int) -> int:
    """Register through ``POST /processes/{p}/work:batchRegister`` (the API served
    in-process by Flask's test client: routing, JSON and validation included, no
    network); returns the items created.
    """
    from slotwork.api.local import flask_app

    http = flask_app(app).test_client()
    created = 0
    for lo in range(0, items, API_BATCH):
        body = {
            "items": [
                {"name": fx.item_name(i), "params": fx.item_params(i)}
                for i in range(lo, min(lo + API_BATCH, items))
            ]
        }
        response = http.post(f"/processes/{process}/work:batchRegister", json=body)
        if response.status_code != 200:
            raise RuntimeError(f"batchRegister answered {response.status_code}")
        created += sum(1 for r in response.get_json()["results"] if r["created"])
    return created


def api_available() -> bool:
    try:
        import slotwork.api.local  # noqa: F401
    except ImportError:
        return False
    return True


def measure(
    bench: fx.Bench, repeat: int, batch_items: int = BATCH_ITEMS, single_items: int = SINGLE_ITEMS
) -> dict[str, list[float]]:
    """Seconds per run of each method (each run registers new items in a new process)."""
    out: dict[str, list[float]] = {"register_many": [], "register": [], "floor": []}
    if api_available():
        out["api"] = []
    for r in range(repeat):
        if "api" in out:
            process = f"reg-api-{r}"
            app = fx.make_app(bench.client, process, bench.slots.next_clock())
            created, wall, _ = fx.timed(lambda: _http_batches(app, process, batch_items))  # noqa: B023
            assert created == batch_items
            out["api"].append(wall)

        process = f"reg-many-{r}"
        app = fx.make_app(bench.client, process, bench.slots.next_clock())
        items = [(fx.item_name(i), fx.item_params(i)) for i in range(batch_items)]
        results, wall, _ = fx.timed(lambda: app.register_many(process, items))  # noqa: B023
        assert sum(x.created for x in results) == batch_items
        out["register_many"].append(wall)

        process = f"reg-one-{r}"
        app = fx.make_app(bench.client, process, bench.slots.next_clock())

        def one_by_one() -> None:
            for i in range(single_items):
                app.register(process, fx.item_name(i), fx.item_params(i))  # noqa: B023

        _, wall, _ = fx.timed(one_by_one)
        out["register"].append(wall)

        process = f"reg-floor-{r}"
        _, wall, _ = fx.timed(lambda: _floor(bench, process, batch_items))  # noqa: B023
        out["floor"].append(wall)
    return out


def section(
    runs: dict[str, list[float]],
    batch_items: int = BATCH_ITEMS,
    single_items: int = SINGLE_ITEMS,
    seeding: tuple[int, float] | None = None,
) -> Section:
    labels = {
        "api": (
            f"HTTP batch API `POST .../work:batchRegister`, {API_BATCH} per request",
            batch_items,
        ),
        "register_many": ("`App.register_many` (batch API), 499 per commit", batch_items),
        "register": ("`App.register`, one item per call", single_items),
        "floor": ("floor: plain batched creates, 500 per commit", batch_items),
    }
    rows = []
    data: dict[str, float] = {}
    for key, (label, items) in labels.items():
        if key not in runs:
            continue
        seconds = fx.median(runs[key])
        rate = items / seconds if seconds else float("nan")
        data[key] = rate
        rows.append([label, f"{items:,}", str(len(runs[key])), fmt(seconds), fmt(rate, 0)])
    if seeding is not None and seeding[1] > 0:
        items, seconds = seeding
        rows.append(
            [
                "the suite's seeding: raw protobuf commits of 500, 4 in flight",
                f"{items:,}",
                "1",
                fmt(seconds),
                fmt(items / seconds, 0),
            ]
        )
    table = Table(["method", "items", "runs", "seconds (median)", "items/s"], rows)
    notes = [
        "`register_many` reads the batch's existing items (one batched get) and writes the "
        "new ones with the process document's settings_version bump in one commit per 499 "
        "items: one read and one write per item, plus one write per commit.",
        "`App.register` pays the same round trips per single item: a get and a commit.",
        "The HTTP batch API row runs the `api` function's handler in-process (Flask's test "
        "client): request parsing and validation are included, the network and a cold start "
        "are not.",
    ]
    data["ratio_to_floor"] = fx.ratio(data["floor"], data["register_many"])
    return Section("registration", "Registration throughput", [table], notes, [], data)
