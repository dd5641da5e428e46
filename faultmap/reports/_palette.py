"""The colours every graphic view gives the slices (or gaps): one palette, so that slice 2 has
the same colour on the HTML page, in a plotly figure and in the console."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["BACKGROUND", "CONSOLE_STYLES", "PALETTE", "TIE", "colour", "group_colours"]

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

#: Colour of a comparison's tested slice that is a tie (no significant difference).
TIE = "#a3a8b0"

#: The slice colours as rich console styles, in the order of :data:`PALETTE`.
CONSOLE_STYLES = ("blue", "red", "dark_orange", "cyan", "green", "yellow", "magenta", "pink1")


def colour(k: int) -> str:
    """The ``k``-th slice colour: the palette first, then hues a golden angle apart at two
    alternating lightnesses, so that no two of the first hundred slices share a colour.

    Example:
        >>> colour(0), colour(10) != colour(0)
        ('#4e79a7', True)
    """
    if k < len(PALETTE):
        return PALETTE[k]
    import colorsys

    j = k - len(PALETTE)
    hue = (0.11 + j * 0.381966) % 1.0
    light = (0.38, 0.55)[j % 2]
    r, g, b = colorsys.hls_to_rgb(hue, light, 0.62)
    return "#{:02x}{:02x}{:02x}".format(*(round(255 * v) for v in (r, g, b)))


def group_colours(highlighted: Sequence[bool], ties: Sequence[bool] = ()) -> list[str]:
    """A colour per map group: a distinct colour for each slice / gap, :data:`TIE` grey for
    each group marked in ``ties`` (a comparison's tied slices), greys for the other prompts.

    Example:
        >>> group_colours([True, True, False])
        ['#4e79a7', '#e15759', '#bdbdbd']
    """
    out, k, g = [], 0, 0
    for i, flag in enumerate(highlighted):
        if flag:
            out.append(colour(k))
            k += 1
        elif i < len(ties) and ties[i]:
            out.append(TIE)
        else:
            out.append(BACKGROUND[min(g, len(BACKGROUND) - 1)])
            g += 1
    return out
