"""The documentation's code is real: examples that are files agree with them, every
Python block compiles, and every link between the pages leads somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
EXAMPLE = re.compile(r"<!-- example: (\S+) -->\n```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_python_block_compiles(page: Path) -> None:
    blocks = [code for lang, code in FENCE.findall(page.read_text()) if lang == "python"]
    for code in blocks:
        compile(code, _name(page), "exec")


def test_the_testing_example_is_the_test_file_verbatim() -> None:
    examples = EXAMPLE.findall((ROOT / "docs" / "testing.md").read_text())
    assert [path for path, _ in examples] == ["tests/test_testing_example.py"]
    source = (ROOT / examples[0][0]).read_text()
    body = source.split('"""', 2)[2].lstrip("\n")  # the file less its docstring
    assert examples[0][1] == body


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_links_between_pages_lead_to_files(page: Path) -> None:
    targets = [t for t in LINK.findall(page.read_text()) if "://" not in t]
    missing = [t for t in targets if not (page.parent / t).exists()]
    assert missing == []
