"""The language torchdeck speaks: gettext catalogs, chosen once per process and switchable live.

Every string a person reads goes through :func:`_` (or :func:`ngettext` where a count decides the
form). ``_`` looks the text up in the current catalog at call time, so a switch of language shows
in everything drawn after it. Text fixed where Python reads the module (a table of labels, a
binding's description) is marked with :func:`N_`, which returns it unchanged for the extractor to
find, and translated with ``_`` where it is shown.

Placeholders are ``str.format``'s named fields: ``_("{n} steps").format(n=n)``; a translation
keeps the same fields (a test checks). The sources of the catalogs are the ``.po`` files in
``core/locale``; ``python -m core.i18n_catalog`` extracts, updates and compiles them (Babel).
At run time only the compiled ``.mo`` files and the standard library's gettext are read.

Imports no torch and no UI library.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from core.errors import ConfigError

DOMAIN = "torchdeck"
LOCALE_DIR = Path(__file__).with_name("locale")  # the shipped catalogs
ENGLISH, VIETNAMESE = "en", "vi"
LANGUAGES = (ENGLISH, VIETNAMESE)  # English is the source language: it has no catalog
LANGUAGE_NAMES = {ENGLISH: "English", VIETNAMESE: "Tiếng Việt"}
ENV_VAR = "TORCHDECK_LANG"  # what a process passes to the engines it starts
# gettext's own order: LANGUAGE is a list (vi:en), the others a locale name (vi_VN.UTF-8)
LOCALE_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

_catalogs: dict[str, gettext.NullTranslations] = {}
_current: gettext.NullTranslations = gettext.NullTranslations()
_language = ENGLISH
_listeners: list[Callable[[str], None]] = []


def _(message: str) -> str:
    """``message`` in the current language (itself where the catalog lacks it)."""
    return _current.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form for ``n`` in the current language (Vietnamese has one form for every count)."""
    return _current.ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in the current language, where the same English word means another thing
    elsewhere (the context tells them apart: "Train" a pane, "Train" trainable)."""
    return _current.pgettext(context, message)


def N_(message: str) -> str:
    """Marks ``message`` for the catalog without translating it: ``_`` does so where it is shown."""
    return message


def language() -> str:
    """The language in use: ``en`` or ``vi``."""
    return _language


def check_language(name: str) -> str:
    """``name`` as one of :data:`LANGUAGES`, or a :class:`ConfigError` that lists them."""
    code = name.strip().lower().replace("-", "_").split("_")[0]
    if code not in LANGUAGES:
        raise ConfigError(
            _("torchdeck does not speak {name!r}").format(name=name),
            _("use one of: {choices}").format(choices=", ".join(LANGUAGES)),
        )
    return code


def from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The language the environment asks for: ``TORCHDECK_LANG``, else the first of LANGUAGE,
    LC_ALL, LC_MESSAGES and LANG that is set (as gettext reads them); English where none names a
    language torchdeck speaks (``C``, ``POSIX`` and unset included)."""
    env = os.environ if environ is None else environ
    if env.get(ENV_VAR):
        try:
            return check_language(env[ENV_VAR])
        except ConfigError:
            pass
    for var in LOCALE_VARS:
        value = env.get(var, "")
        if not value:
            continue
        for entry in value.split(":"):  # only LANGUAGE holds several
            code = entry.split(".")[0].split("@")[0].split("_")[0].lower()
            if code in LANGUAGES:
                return code
        return ENGLISH  # the first variable set decides, as in gettext
    return ENGLISH


def catalog(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of ``lang`` (English: none, every text is its own translation)."""
    if lang not in _catalogs:
        if lang == ENGLISH:
            _catalogs[lang] = gettext.NullTranslations()
        else:
            path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
            try:
                with open(path, "rb") as f:
                    _catalogs[lang] = gettext.GNUTranslations(f)
            except Exception as exc:  # missing, unreadable, or not a compiled catalog
                raise ConfigError(
                    _("the {language} texts cannot be read ({path}: {error})").format(
                        language=LANGUAGE_NAMES[lang], path=path, error=exc
                    ),
                    _("reinstall torchdeck; --lang en works meanwhile"),
                ) from exc
    return _catalogs[lang]


def set_language(name: str) -> str:
    """Speak ``name`` from now on in this process and in the engines it starts; returns the code.
    Listeners (the app's views) are told after the switch. A name torchdeck does not speak, or
    a catalog that cannot be read, is a :class:`ConfigError`, and the language stays as it was."""
    global _current, _language
    code = check_language(name)
    _current, _language = catalog(code), code
    os.environ[ENV_VAR] = code
    for listener in list(_listeners):
        listener(code)
    return code


def from_environment_or_english(environ: Mapping[str, str] | None = None) -> str | None:
    """Speak the environment's language (:func:`from_environment`); where its catalog cannot be
    read, English, and the reason is returned to be said (a locale is no order: nothing stops)."""
    try:
        set_language(from_environment(environ))
    except ConfigError as exc:
        set_language(ENGLISH)
        return str(exc)
    return None


def on_change(listener: Callable[[str], None]) -> Callable[[], None]:
    """Call ``listener(code)`` after each switch; returns what removes it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


class Words(str):
    """A text made now and shown later, in the language of the moment it is shown: a rule's
    words (an ``Arg``'s ``expect``, made when a module is loaded), a lesson's figure.

    As a ``str`` it is the English text (what code compares and what is stored); ``str()``,
    ``format()`` and an f-string give it in the language of that moment: ``Words(N_("an integer
    in [{low}, {high}]"), low=0, high=9)``. A value that is itself ``Words`` is translated with
    it."""

    template: str
    values: dict[str, Any]

    def __new__(cls, template: str, **values: Any) -> Words:
        english = {k: str.__str__(v) if isinstance(v, Words) else v for k, v in values.items()}
        self = super().__new__(cls, template.format(**english))
        self.template, self.values = template, values
        return self

    def __str__(self) -> str:
        # the template is marked with N_ where these Words are made: the catalog has it
        return _(self.template).format(**self.values)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)
