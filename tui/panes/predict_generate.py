"""The Predict pane's generation: ctrl+g (or g) streams characters after the typed text into
the side view; escape or x stops it; enter in the box appends what was generated."""

from __future__ import annotations

from textual.actions import SkipAction
from textual.widgets import Input

from core.contract import CancelArgs, GenerateArgs
from core.i18n import _


class Generation:
    """Mixed into PredictPane: it has ``link``, ``controls``, ``generated_view``, ``side``."""

    def _show_generated(self) -> None:
        self.generated_view.show(self.controls.gen_length)

    async def action_generate(self) -> None:
        if self.generating:
            return
        if not (self.ready and self.is_lm):
            self.app.notify(_("the engine has no language model yet"), timeout=3)
            return
        self.generated_view.start(self.text)
        if self.side != "generated":
            await self.action_side(self.side)  # back to the generated view
        self._show_controls()
        self._show_generated()
        self.run_worker(self._generate(), group="generate", exclusive=True)

    async def _generate(self) -> None:
        view = self.generated_view
        self._gen_id = self.link.client.next_id
        length, sampling = self.controls.gen_length, self.controls.sampling()
        args = GenerateArgs(prompt=view.prompt, max_new=length, stream=True, **sampling)
        result = await self.link.call(args)
        self._gen_id = None
        view.finish(None if result is None else result.text)
        if result is not None and result.stopped:
            n = len(view.text)
            self.app.notify(_("stopped after {n} characters").format(n=n), timeout=2)
        if self.is_running:
            self._show_generated()
            self._show_controls()

    async def action_stop(self) -> None:
        if not self.generating:
            raise SkipAction()  # nothing to stop: escape goes on to the app's (leaves the box)
        if self._gen_id is None:
            return
        await self.link.call(CancelArgs(self._gen_id), quiet=True)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the text box appends the generated text to it."""
        if event.input.id != "predict-input":
            return
        view = self.generated_view
        if view.text and not view.generating:
            self.input_box.set_text(view.prompt + view.text)
            view.clear()
            self._show_generated()
