"""What ``make run`` and ``make test`` check before they start."""

from __future__ import annotations

import shutil

import pytest

from slotwork_local import prereqs


def test_make_run_needs_no_terraform_but_make_test_does(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    found = shutil.which
    monkeypatch.setattr(
        prereqs.shutil, "which", lambda name: None if name == "terraform" else found(name)
    )
    assert prereqs.main(["--run"]) == 0
    assert prereqs.main([]) == 1
    assert "terraform not found" in capsys.readouterr().err
