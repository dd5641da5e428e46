"""The colours every graphic view gives the slices (or gaps): one palette, so that slice 2 has
the same colour on the HTML page, in a plotly figure and in the console."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["BACKGROUND", "CONSOLE_STYLES", "PALETTE", "group_colours"]

#: Colours of the slices / gaps (Tableau 10, distinguishable by most readers).
PALETTE = (
    "#4e79a7",
    "#e15759",
    "#f28e2b",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#17becf",
)

#: Colours of the prompts in no slice / gap on a map.
BACKGROUND = ("#bdbdbd", "#dedede")

#: The slice colours as rich console styles, in the order of :data:`PALETTE`.
CONSOLE_STYLES = ("blue", "red", "dark_orange", "cyan", "green", "yellow", "magenta", "pink1")


def group_colours(highlighted: Sequence[bool]) -> list[str]:
    """A colour per map group: the palette for slices / gaps, greys for the other prompts.

    Example:
        >>> group_colours([True, True, False])
        ['#4e79a7', '#e15759', '#bdbdbd']
    """
    out, k, g = [], 0, 0
    for flag in highlighted:
        if flag:
            out.append(PALETTE[k % len(PALETTE)])
            k += 1
        else:
            out.append(BACKGROUND[min(g, len(BACKGROUND) - 1)])
            g += 1
    return out
