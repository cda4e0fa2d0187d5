"""argparse's own texts (``usage: ``, ``options``, its error messages) in torchdeck's language.

argparse words them with its module-level ``_`` and ``ngettext`` (``from gettext import
gettext as _, ngettext``): :func:`install` points those at :mod:`core.i18n`'s, which read the
current catalog at call time, so every parser built or erring afterwards speaks the language
``--lang`` chose. The msgids below are the ones argparse uses in Python 3.10 to 3.13, listed
here only for the catalog's extractor: they keep argparse's ``%`` placeholders (``%(prog)s``,
``%s``), which a translation must keep too (a test checks).
"""

from __future__ import annotations

import argparse

from core.i18n import N_, ngettext

TEXTS = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("subcommands"),
    N_("%(heading)s:"),
    N_(" (default: %(default)s)"),
    N_("show this help message and exit"),
    N_("show program's version number and exit"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("%(prog)s: warning: %(message)s\n"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("unrecognized arguments: %s"),
    N_("the following arguments are required: %s"),
    N_("one of the arguments %s is required"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("not allowed with argument %s"),
    N_("ignored explicit argument %r"),
    N_("unexpected option string: %s"),
    N_("unknown parser %(parser_name)r (choices: %(choices)s)"),
    N_("can't open '%(filename)s': %(error)s"),
    N_('argument "-" with mode %r'),
    N_("command '%(parser_name)s' is deprecated"),
    N_("option '%(option)s' is deprecated"),
    N_("argument '%(argument_name)s' is deprecated"),
    # mistakes in the code that builds a parser, not in a command line (said all the same)
    N_(".__call__() not defined"),
    N_("'required' is an invalid argument for positionals"),
    N_("mutually exclusive arguments must be optional"),
    N_("%r is not callable"),
    N_("cannot merge actions - two groups are named %r"),
    N_("invalid option string %(option)r: must start with a character %(prefix_chars)r"),
    N_("dest= is required for options like %r"),
    N_("invalid conflict_resolution value: %r"),
    N_("cannot have multiple subparser arguments"),
    N_("conflicting subparser: %s"),
    N_("conflicting subparser alias: %s"),
)


def _plurals(n: int) -> tuple[str, ...]:
    """argparse's texts with a count, for the extractor (never called for its result)."""
    return (
        ngettext("expected %s argument", "expected %s arguments", n),
        ngettext("conflicting option string: %s", "conflicting option strings: %s", n),
    )


def install() -> None:
    """argparse's texts from torchdeck's catalog from now on (once per process is enough:
    ``core.i18n._`` looks the language up at each call)."""
    import argparse

    from core import i18n

    argparse._ = i18n._
    argparse.ngettext = i18n.ngettext


class Parser(argparse.ArgumentParser):
    """A refusal is two lines: argparse's error, and where the options are listed (not the
    whole usage block above it, which buries the one line that says what was wrong)."""

    def error(self, message: str):
        from core.i18n import _

        self.exit(2, self.refusal(message, _("see `{command} --help`").format(command=self.prog)))

    def refusal(self, message: str, hint: str) -> str:
        """The two lines, argparse's error in its own words and ``hint``."""
        from core.i18n import _

        said = _("%(prog)s: error: %(message)s\n") % {"prog": self.prog, "message": message}
        return said + _("hint: {hint}").format(hint=hint) + "\n"


def training_option_for_the_app(
    app: Parser, train: argparse.ArgumentParser, argv: list[str]
) -> str | None:
    """The refusal for a training setting given to the app (``torchdeck --lr 5``, where
    argparse said "invalid choice: '5'", taking the value for a command), or None. ``app`` has
    ``commands``, the names its subparsers take."""
    from core.i18n import _

    if any(token in app.commands for token in argv):
        return None  # a command's own options are its parser's to check
    for token in argv:
        name = token.split("=", 1)[0]
        if not name.startswith("--") or name in app._option_string_actions:
            continue
        if name in train._option_string_actions:
            said = _("{option} is a training setting, not an option of the app").format(option=name)
            hint = _(
                "give it to the app in a --config FILE.toml (or in the Train pane's form), or "
                "train headless with torchdeck train {option} …"
            ).format(option=name)
            return app.refusal(said, hint)
    return None
