"""A partial paint that visits only the widgets on the rows that changed.

Textual paints a partial update by cropping the screen to the rectangle around every changed
region and asking each visible widget inside that rectangle for its lines. While a run trains,
each report changes the status bar (the top row), the chart and the metrics column, and the
five-step strip near the bottom: the rectangle around them is nearly the whole screen, so every
widget of the settings form (some 80 labels and boxes, none of them changed) was visited too,
each costing its style lookups even with its lines cached. Measured in the app while training at
200×50, the paints that carried a report took 13–14 ms (p90), and some 70% of it was those
visits.

:class:`RowsCompositor` groups the changed regions into bands of rows that do not overlap and
crops each band to its own rectangle; each row's pieces come from the one band that holds it.
What is written to the terminal is the same: the same rows and spans, each drawn from the same
widgets. It overrides ``Compositor.render_partial_update``; ``tests/tui/test_rows_compositor.py``
checks the output against Textual's own and fails if the method it relies on is gone.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual._compositor import ChopsUpdate, Compositor
from textual.geometry import Region


def row_bands(regions: Iterable[Region]) -> list[list[Region]]:
    """The regions in groups whose rows do not overlap another group's, top to bottom."""
    bands: list[list[Region]] = []
    bottom = 0
    for region in sorted(regions, key=lambda r: r.y):
        if bands and region.y < bottom:
            bands[-1].append(region)
            bottom = max(bottom, region.bottom)
        else:
            bands.append([region])
            bottom = region.bottom
    return bands


class RowsCompositor(Compositor):
    """Textual's compositor, its partial update cropped band by band (see the module)."""

    def render_partial_update(self) -> ChopsUpdate | None:
        regions = self._dirty_regions.copy()
        self._dirty_regions.clear()
        if not regions:
            return None
        screen = self.size.region
        spans = list(self._regions_to_spans(regions))
        rendered = {y for y, _, _ in spans}.__contains__
        chops = None
        for band in row_bands(regions):
            crop = Region.from_union(band).intersection(screen)
            if not crop:
                continue
            part = self._render_chops(crop, rendered)
            if chops is None:
                chops = part
            else:
                chops[crop.y : crop.bottom] = part[crop.y : crop.bottom]
        if chops is None:
            return None
        return ChopsUpdate(chops, spans, [cuts[1:] for cuts in self.cuts])
