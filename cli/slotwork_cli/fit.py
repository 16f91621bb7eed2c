"""Tables that fit the console's width without cutting a word.

Rich shrinks a table that is too wide by narrowing its columns, and a word
wider than its column is then cut (``ttl-swe…``, ``COMPLET…``). Here the
widths are decided before rich sees the table: every column gets its natural
width when all fit; columns marked ``wrap`` narrow down to their longest word;
then the least important columns are dropped, one at a time. When even the
required columns do not fit, ``fit`` answers None and the caller shows the
rows another way (``stacked``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from rich import box
from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

GAP = 2  # spaces between columns: what a table of SIMPLE_HEAD with collapsed padding leaves
REQUIRED = 1_000  # the ``keep`` of a column that is never dropped

Justify = Literal["left", "right"]


@dataclass(frozen=True)
class Column:
    """One column: its header, its cells (one per row), how to lay it out.

    ``keep``: the higher, the later it is dropped (``REQUIRED``: never).
    ``wrap``: its cells may wrap between words (never inside one).
    """

    header: str
    cells: Sequence[str]
    justify: Justify = "left"
    keep: int = REQUIRED
    wrap: bool = False
    style: str | None = None
    styles: Sequence[str | None] = field(default_factory=tuple)

    def cell(self, row: int) -> Text:
        style = self.styles[row] if row < len(self.styles) else None
        return Text(self.cells[row], style=style or "")

    def natural(self) -> int:
        return max([_width(self.header), *(_width(c) for c in self.cells)])

    def narrowest(self) -> int:
        if not self.wrap:
            return self.natural()
        words = [w for c in (self.header, *self.cells) for w in c.split()]
        return max([1, *(cell_len(w) for w in words)])


def _width(text: str) -> int:
    return max([0, *(cell_len(line) for line in text.splitlines())])


def widths(columns: Sequence[Column], width: int) -> list[int] | None:
    """The width of each column so that the table is at most ``width`` wide; None
    when it cannot be without cutting a word."""
    gaps = GAP * (len(columns) - 1)
    natural = [c.natural() for c in columns]
    if sum(natural) + gaps <= width:
        return natural
    narrowest = [c.narrowest() for c in columns]
    spare = width - gaps - sum(narrowest)
    if spare < 0:
        return None
    chosen = list(narrowest)
    # Give the spare room back to the wrapping columns, narrowest first.
    for index in sorted(range(len(columns)), key=lambda i: natural[i] - narrowest[i]):
        extra = min(spare, natural[index] - narrowest[index])
        chosen[index] += extra
        spare -= extra
    return chosen


def layout(columns: Sequence[Column], width: int) -> tuple[list[Column], list[int]] | None:
    """The columns kept (the least important dropped first) and their widths, for a
    table at most ``width`` wide; None when the required ones do not fit."""
    kept = list(columns)
    while True:
        chosen = widths(kept, width)
        if chosen is not None:
            return kept, chosen
        droppable = [c for c in kept if c.keep < REQUIRED]
        if not droppable:
            return None
        kept.remove(min(droppable, key=lambda c: c.keep))


def fit(columns: Sequence[Column], width: int, title: str | None = None) -> Table | None:
    """The table of ``columns`` at most ``width`` wide; None when the required ones
    do not fit."""
    found = layout(columns, width)
    return table(*found, title=title) if found is not None else None


def table(columns: Sequence[Column], chosen: Sequence[int], title: str | None = None) -> Table:
    """The table of ``columns`` at the widths ``chosen``."""
    result = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        title=title,
        title_justify="left",
        header_style="bold",
    )
    for column, width in zip(columns, chosen, strict=True):
        result.add_column(
            column.header,
            justify=column.justify,
            width=width,
            no_wrap=not column.wrap,
            overflow="fold",
            style=column.style,
        )
    rows = len(columns[0].cells) if columns else 0
    for row in range(rows):
        result.add_row(*(column.cell(row) for column in columns))
    return result


def stacked(columns: Sequence[Column], title: str | None = None) -> RenderableType:
    """The rows as blocks, for consoles too narrow for the table: the first
    column's cell on a line of its own, then one ``header  value`` line per field."""
    blocks: list[RenderableType] = [Text(title, style="bold")] if title else []
    rows = len(columns[0].cells) if columns else 0
    for row in range(rows):
        head, *rest = columns
        blocks.append(Text(head.cells[row], style="bold", overflow="fold"))
        fields = Table.grid(padding=(0, 2, 0, 0))
        fields.add_column(no_wrap=True)
        fields.add_column(overflow="fold")
        for column in rest:
            if column.cells[row].strip():
                fields.add_row(Text("  " + column.header), Text(column.cells[row]))
        blocks.append(fields)
    return Group(*blocks)


def report() -> Table:
    """A small report: a column of labels, and one of values that wrap to the width."""
    grid = Table.grid(padding=(0, 2, 0, 0))
    grid.add_column(no_wrap=True, style="bold")
    grid.add_column(overflow="fold")
    return grid


def table_or_stack(
    columns: Sequence[Column], width: int, title: str | None = None
) -> RenderableType:
    """``fit``'s table, or ``stacked`` when even the required columns are too wide."""
    fitted = fit(columns, width, title)
    return fitted if fitted is not None else stacked(columns, title)
