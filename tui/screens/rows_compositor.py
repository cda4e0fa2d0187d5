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
A band is joined to the one above where the two together visit no more widgets than apart (a
keystroke's echo and its bars: two crops there cost ~3 ms more a key than one, measured).
Within a crop, Textual asks each widget whose *clip* (its container's visible area) meets the
crop for all of its lines: at 80×24 a keystroke's paint in the Predict pane also drew the status
bar, the tabs, the key line and the sampling controls, none of them on a changed row, and every
line of each container around the bars, though the widgets in front of it covered them. Here a
widget is asked only for the rows of the crop that it shows, and not at all where the widgets
in front of it have already filled its part of those rows; its columns are left whole, so its
lines still divide at the same cuts.

What is written to the terminal is the same: the same rows and spans, each drawn from the same
widgets. It overrides ``Compositor.render_partial_update`` and ``Compositor._render_chops``;
``tests/tui/test_rows_compositor.py`` checks the output against Textual's own and fails if a
method it relies on is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from textual._compositor import ChopsUpdate, Compositor
from textual.geometry import Region
from textual.strip import Strip


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
        for crop in self._crops(row_bands(regions), screen):
            part = self._render_chops(crop, rendered)
            if chops is None:
                chops = part
            else:
                chops[crop.y : crop.bottom] = part[crop.y : crop.bottom]
        if chops is None:
            return None
        return ChopsUpdate(chops, spans, [cuts[1:] for cuts in self.cuts])

    def _crops(self, bands: list[list[Region]], screen: Region) -> list[Region]:
        """A crop per band, a band joined to the one above where that visits no more widgets
        than the two apart: each crop costs a pass over the screen's lines, and a widget that
        two crops overlap is asked for its lines twice."""
        clips = [region.intersection(clip) for region, clip in self.visible_widgets.values()]

        def visits(crop: Region) -> int:
            return sum(1 for clip in clips if crop.overlaps(clip))

        crops: list[tuple[Region, int]] = []
        for band in bands:
            crop = Region.from_union(band).intersection(screen)
            if not crop:
                continue
            cost = visits(crop)
            if crops:
                above, above_cost = crops[-1]
                joined = above.union(crop)
                joined_cost = visits(joined)
                if joined_cost <= above_cost + cost:
                    crops[-1] = (joined, joined_cost)
                    continue
            crops.append((crop, cost))
        return [crop for crop, _ in crops]

    def _render_chops(
        self, crop: Region, is_rendered_line: Callable[[int], bool]
    ) -> Sequence[Mapping[int, Strip]]:
        """Textual's chops (each row cut where widgets begin and end, each piece from the
        front-most widget there), asking each widget only for the rows of ``crop`` it shows
        and not at all once widgets in front of it have filled its pieces on those rows."""
        cuts = self.cuts
        chops: list[dict[int, Strip | None]] = [dict.fromkeys(cut_set[:-1]) for cut_set in cuts]
        top, bottom = crop.y, crop.bottom
        for widget, (region, clip) in self.visible_widgets.items():  # front to back
            shown = region.intersection(clip)
            y1, y2 = max(shown.y, top), min(shown.bottom, bottom)
            if y2 <= y1 or not crop.overlaps(shown):
                continue
            x1, x2 = shown.column_span
            # its pieces that meet the crop's columns: are any of them still empty?
            lo, hi = max(x1, crop.x), min(x2, crop.right)
            rows = [
                y
                for y in range(y1, y2)
                if is_rendered_line(y)
                and any(
                    chops[y][cut] is None
                    for cut, end in zip(cuts[y], cuts[y][1:])
                    if x1 <= cut < hi and end > lo
                )
            ]
            if not rows:
                continue  # hidden behind the widgets in front of it on every row drawn
            drawn = Region(x1, rows[0], x2 - x1, rows[-1] + 1 - rows[0])
            strips = widget.render_lines(drawn.translate(-region.offset))
            wanted = set(rows)
            for y, strip in zip(drawn.line_range, strips):
                if y not in wanted:
                    continue
                line = chops[y]
                final_cuts = [cut for cut in cuts[y] if x2 >= cut >= x1]
                pieces = strip.divide([cut - x1 for cut in final_cuts[1:]])
                for cut, piece in zip(final_cuts, pieces):
                    if line.get(cut) is None:
                        line[cut] = piece
        return chops
