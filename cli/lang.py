"""``--lang vi|en``: the language of everything torchdeck prints and draws.

Taken out of the command line before any parser reads it, so that the help of every command
(and of the commands that parse their own arguments) is printed in that language, and that it
may stand anywhere: ``torchdeck --lang vi``, ``torchdeck train --lang vi --steps 50``. Without
it the environment decides (``core.i18n.from_environment``). The engines this process starts
inherit the choice.
"""

from __future__ import annotations

import sys

from core import i18n
from core.errors import ConfigError

FLAG = "--lang"


def take(argv: list[str]) -> tuple[list[str], str | None]:
    """``argv`` without ``--lang X`` / ``--lang=X`` (those before a ``--``), and the last X."""
    rest, chosen, i = [], None, 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg == FLAG:
            if i + 1 >= len(argv):
                raise ConfigError(
                    i18n._("--lang needs a language"), i18n._("--lang vi or --lang en")
                )
            chosen, i = argv[i + 1], i + 2
            continue
        if arg.startswith(FLAG + "="):
            chosen = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return rest, chosen


def apply(argv: list[str]) -> tuple[list[str], int | None]:
    """Sets the language from ``argv`` or the environment; returns the rest of ``argv`` and,
    for a language torchdeck does not speak, the exit code after the message is printed.
    argparse's own texts (``usage:``, its errors) follow the language too."""
    from cli import argparse_texts

    argparse_texts.install()
    unread = i18n.from_environment_or_english()
    if unread:
        print("torchdeck: " + i18n._("warning: {message}").format(message=unread), file=sys.stderr)
    try:
        rest, chosen = take(argv)
        if chosen is not None:
            i18n.set_language(chosen)
    except ConfigError as exc:
        print("torchdeck: " + i18n._("error: {message}").format(message=exc), file=sys.stderr)
        return argv, 2
    return rest, None
