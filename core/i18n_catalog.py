"""The catalogs' upkeep, with Babel: ``python -m core.i18n_catalog [update|compile|check]``.

- ``update`` extracts every marked text of ``cli``, ``core`` and ``tui`` (``_``, ``N_``,
  ``ngettext``) and merges it into each language's ``.po``: translations kept, new texts added
  empty, texts no longer in the code dropped.
- ``compile`` writes each ``.mo`` from its ``.po`` (what the app reads; shipped in the package).
- ``check`` prints what stops a catalog from being complete (the tests assert the same).

Babel is a tool of the people who write torchdeck (the ``test`` extra), not of its users.
"""

from __future__ import annotations

import ast
import io
import re
import string
import sys
from datetime import datetime, timezone
from pathlib import Path

from core.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

ROOT = LOCALE_DIR.parent.parent
PACKAGES = ("cli", "core", "tui")
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}
MARKERS = ("_", "N_", "ngettext", "pgettext")
CONTEXT_SEP = "\x04"  # between a context and its msgid, as in a compiled catalog
TRANSLATED = tuple(lang for lang in LANGUAGES if lang != "en")
HEADER = "# torchdeck's texts in Vietnamese.\n# Written for torchdeck; kept by python -m core.i18n_catalog."
STAMP = datetime(2026, 12, 4, tzinfo=timezone.utc)  # fixed: an update changes only what changed


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def extract():
    """Every marked text of the sources, as a Babel catalog (the template)."""
    from babel.messages.catalog import Catalog

    template = Catalog(project="torchdeck", domain=DOMAIN, creation_date=STAMP)
    for path in sources():
        rel = path.relative_to(ROOT).as_posix()
        with open(path, "rb") as f:
            for lineno, func, message, _comments in extract_python_file(f):
                context = None
                if func == "pgettext" and len(message) == 2:
                    context, message = message
                if isinstance(message, tuple) and len(message) == 1:
                    message = message[0]
                if message:
                    template.add(message, locations=[(rel, lineno)], context=context)
    return template


def unmarkable(path: Path) -> list[str]:
    """Calls of ``_``/``N_``/``ngettext`` whose text is made on the spot (an f-string, a
    concatenation, a format call): the extractor cannot see it, so it would never be translated
    (``_`` of a name holds a text marked with ``N_`` elsewhere, and is allowed). And, in a
    module that imports ``_``, a ``_`` used as a throwaway name, which hides the translator."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    bad = []
    imports_marker = any(
        isinstance(node, ast.ImportFrom) and any(a.name == "_" for a in node.names)
        for node in ast.walk(tree)
    )
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):  # Babel does not look inside an f-string
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Call)
                    and getattr(inner.func, "id", "") in MARKERS
                    and inner.args
                    and isinstance(inner.args[0], ast.Constant)
                ):
                    bad.append(f"{path.relative_to(ROOT)}:{inner.lineno}: inside an f-string")
        if imports_marker and isinstance(node, ast.Name) and node.id == "_":
            if isinstance(node.ctx, ast.Store):  # a throwaway ``_`` hides the translator
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: _ assigned")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in MARKERS and node.args:
                count = 2 if node.func.id in ("ngettext", "pgettext") else 1
                for arg in node.args[:count]:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        continue
                    # _(label) of a text marked elsewhere with N_ is how a table's label is
                    # shown; a text made on the spot (f-string, +, %, .format) never is
                    if node.func.id == "_" and isinstance(
                        arg, ast.Name | ast.Attribute | ast.Subscript
                    ):
                        continue
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.func.id}(...)")
    return bad


def read(lang: str):
    from babel.messages.pofile import read_po

    with open(po_path(lang), "rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def write(lang: str, catalog) -> None:
    from babel.messages.pofile import write_po

    buf = io.BytesIO()
    catalog.project, catalog.version, catalog.fuzzy = "torchdeck", "", False
    catalog.header_comment = HEADER
    catalog.revision_date = STAMP
    catalog.last_translator = catalog.language_team = "torchdeck"
    catalog.msgid_bugs_address = ""
    write_po(buf, catalog, width=100, ignore_obsolete=True, include_lineno=False)
    po_path(lang).parent.mkdir(parents=True, exist_ok=True)
    tmp = po_path(lang).with_suffix(".po.tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(po_path(lang))


def update() -> None:
    from babel.messages.catalog import Catalog

    template = extract()
    for lang in TRANSLATED:
        catalog = read(lang) if po_path(lang).exists() else Catalog(locale=lang, domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        write(lang, catalog)


def compile_all() -> None:
    from babel.messages.mofile import write_mo

    for lang in TRANSLATED:
        buf = io.BytesIO()
        write_mo(buf, read(lang), use_fuzzy=False)
        mo = po_path(lang).with_suffix(".mo")
        tmp = mo.with_suffix(".mo.tmp")
        tmp.write_bytes(buf.getvalue())
        tmp.replace(mo)


def key_of(message) -> str:
    """A catalog entry's key: its msgid (a plural's singular), after its context if any."""
    text = message.id[0] if isinstance(message.id, tuple) else message.id
    return f"{message.context}{CONTEXT_SEP}{text}" if message.context else text


def extract_python_file(f):
    from babel.messages.extract import extract_python

    for lineno, func, message, comments in extract_python(f, KEYWORDS, [], {}):
        if isinstance(message, tuple):
            message = tuple(m for m in message if m is not None) or ("",)
        yield lineno, func, message, comments


def fields(text: str) -> list[str]:
    """The ``str.format`` fields of ``text``, sorted (a translation may reorder them)."""
    try:
        return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)
    except ValueError as e:
        return [f"<unparsable: {e}>"]


PERCENT = re.compile(r"%(?:\((\w+)\))?[#0+-]*\d*(?:\.\d+)?([diouxXeEfFgGcrsa%])")


def percent_fields(text: str) -> list[str]:
    """The ``%`` conversions of ``text`` (argparse's texts use them), sorted: ``%(prog)s``
    as ``prog:s``, a bare ``%s`` as ``:s``; ``%%`` is no field."""
    return sorted(f"{name or ''}:{conv}" for name, conv in PERCENT.findall(text) if conv != "%")


def problems(lang: str) -> list[str]:
    """What keeps ``lang``'s catalog from matching the code: texts missing from it or left
    untranslated, fuzzy entries, placeholders that differ, texts the code no longer has."""
    out = []
    catalog = read(lang)
    template = extract()
    wanted = {key_of(m) for m in template if m.id}
    have = {key_of(m) for m in catalog if m.id}
    for mid in sorted(wanted - have, key=str):
        out.append(f"not in the catalog: {mid!r}")
    for mid in sorted(have - wanted, key=str):
        out.append(f"no longer in the code: {mid!r}")
    for m in catalog:
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strs = m.string if isinstance(m.string, tuple) else (m.string,)
        if m.fuzzy:
            out.append(f"fuzzy: {m.id!r}")
        if not all(strs):
            out.append(f"untranslated: {m.id!r}")
            continue
        for s in strs:  # a plural's one Vietnamese form is written with the plural's fields
            if fields(s) != fields(ids[-1]):
                out.append(f"placeholders differ: {ids[-1]!r} -> {s!r}")
            if "python-format" in m.flags and percent_fields(s) != percent_fields(ids[-1]):
                out.append(f"% placeholders differ: {ids[-1]!r} -> {s!r}")
    for path in sources():
        out.extend(unmarkable(path))
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    what = args[0] if args else "check"
    if what == "update":
        update()
    elif what == "compile":
        compile_all()
    elif what == "check":
        found = [f"{lang}: {p}" for lang in TRANSLATED for p in problems(lang)]
        print("\n".join(found) or "every catalog is complete")
        return 1 if found else 0
    else:
        print(
            "usage: python -m core.i18n_catalog update|compile|check",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
