"""The example of docs/testing.md, verbatim (a test checks the two agree): a
user's worker tested with ``slotwork.testing``, no database, no server."""

from datetime import timedelta

import slotwork
from slotwork.testing import Harness


class RotateKeys:
    """The worker under test: one API call per account (here a dict stands in)."""

    def __init__(self, api: dict[str, int]) -> None:
        self.api = api

    def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        if self.api.get(item.name) == 429:
            self.api[item.name] = 200  # throttled once, fine the next time
            raise slotwork.RetryAfter(30, "429 Too Many Requests")
        ctx.add_stat("rotated")

    def cleanup(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        raise slotwork.Gone()  # nothing to undo


def test_a_throttled_account_is_retried_in_the_same_slot() -> None:
    retry = slotwork.Retry(attempts=3, initial=timedelta(seconds=1))
    h = Harness(slotwork.Process("rotate", RotateKeys({"acct-2": 429}), timedelta(hours=1),
                                 retry=retry))  # fmt: skip
    h.register_many("rotate", ["acct-1", "acct-2", "acct-3"])
    report = h.run_slot("rotate")
    assert report.run_state == "COMPLETED"
    assert report.items["acct-2"].calls == 2 and report.items["acct-2"].state == "completed"
    assert report.items["acct-1"].stats == {"rotated": 1.0}


def test_a_crash_redoes_only_what_was_not_checkpointed() -> None:
    h = Harness(slotwork.Process("rotate", RotateKeys({}), timedelta(hours=1)),
                checkpoint_items=1)  # fmt: skip
    h.register_many("rotate", ["acct-1", "acct-2", "acct-3"])
    h.crash(at_item="acct-2")  # the instance dies as acct-2 starts
    report = h.run_slot("rotate")
    assert report.outcomes[0] == "crashed"
    assert [report.items[n].calls for n in ("acct-1", "acct-2", "acct-3")] == [1, 2, 1]
