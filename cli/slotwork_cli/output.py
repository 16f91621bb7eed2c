"""Where the CLI prints: rich renderables for people, the API's JSON for scripts (``--json``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from rich.console import Console, RenderableType

from slotwork_cli import values

T = TypeVar("T")


class Output:
    """Prints results through a view, or as JSON when ``as_json``.

    ``console`` is where views go (stdout by default: its width is the
    terminal's, or 80 when piped); errors and notes of progress go to stderr.
    """

    def __init__(
        self,
        as_json: bool,
        console: Console | None = None,
        clock: Callable[[], datetime] = values.now_utc,
    ) -> None:
        self.as_json = as_json
        self.console = console or Console()
        self.errors = Console(stderr=True)
        self.clock = clock

    @property
    def width(self) -> int:
        return self.console.width

    def json(self, data: Any) -> None:
        # print(), not rich: scripts want the bytes as they are, no wrapping or markup.
        print(json.dumps(data, indent=2, ensure_ascii=False))

    def json_line(self, data: Any) -> None:
        """One JSON object on one line (JSON Lines), flushed at once for a reader downstream."""
        print(json.dumps(data, ensure_ascii=False, separators=(",", ":")), flush=True)

    def error(self, message: str) -> None:
        self.errors.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)

    def note(self, message: str) -> None:
        if not self.as_json:
            # Unwrapped: a note holding a page token or a command stays on one line to copy.
            self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def print(self, renderable: RenderableType) -> None:
        self.console.print(renderable)

    def show(self, data: T, view: Callable[[T, int, datetime], RenderableType]) -> None:
        """``data`` as JSON, or through ``view(data, width, now)``."""
        if self.as_json:
            self.json(data)
        else:
            self.print(view(data, self.width, self.clock()))
