"""The language: chosen from --lang or the environment, switched live, read from the catalogs."""

from __future__ import annotations

import gettext

import pytest

from cli import lang as cli_lang
from core import i18n
from core.errors import ConfigError


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "en"),
        ({"LANG": "vi_VN.UTF-8"}, "vi"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "POSIX"}, "en"),
        ({"LC_ALL": "vi_VN", "LANG": "en_US.UTF-8"}, "vi"),
        ({"LC_ALL": "en_GB.UTF-8", "LANG": "vi_VN.UTF-8"}, "en"),  # the first one set decides
        ({"LANGUAGE": "fr:vi:en", "LANG": "en_US.UTF-8"}, "vi"),  # a list: the first we speak
        ({"LANGUAGE": "de", "LANG": "vi_VN.UTF-8"}, "en"),
        ({"LC_MESSAGES": "vi_VN.UTF-8@euro"}, "vi"),
        ({"TORCHDECK_LANG": "vi", "LANG": "en_US.UTF-8"}, "vi"),
        ({"TORCHDECK_LANG": "klingon", "LANG": "vi_VN.UTF-8"}, "vi"),  # unusable: the next says
    ],
)
def test_the_environment_chooses_as_gettext_reads_it(env, expected):
    assert i18n.from_environment(env) == expected


def test_an_unknown_language_names_the_choices():
    with pytest.raises(ConfigError) as err:
        i18n.check_language("fr")
    assert str(err.value) == "torchdeck does not speak 'fr' (use one of: en, vi)"
    assert i18n.check_language("vi_VN") == "vi" and i18n.check_language("EN") == "en"


def test_set_language_translates_at_call_time_and_tells_listeners():
    heard = []
    stop = i18n.on_change(heard.append)
    try:
        message = "use one of: {choices}"
        assert i18n._(message) == message
        assert i18n.set_language("vi") == "vi" and i18n.language() == "vi"
        assert i18n._(message) == "hãy chọn một trong: {choices}"
        assert i18n._("a text no catalog has") == "a text no catalog has"
        assert i18n.ngettext("{n} step", "{n} steps", 2) == "{n} steps"
        i18n.set_language("en")
        assert i18n._(message) == message
    finally:
        stop()
    assert heard == ["vi", "en"]


def test_the_engines_started_later_inherit_the_language(monkeypatch):
    monkeypatch.delenv(i18n.ENV_VAR, raising=False)
    i18n.set_language("vi")
    import os

    assert os.environ[i18n.ENV_VAR] == "vi"


def test_n_marks_without_translating():
    i18n.set_language("vi")
    assert i18n.N_("use one of: {choices}") == "use one of: {choices}"


@pytest.mark.parametrize(
    ("argv", "rest", "chosen"),
    [
        (["--lang", "vi"], [], "vi"),
        (["train", "--steps", "5", "--lang=vi"], ["train", "--steps", "5"], "vi"),
        (["--lang", "vi", "--lang", "en", "ls"], ["ls"], "en"),
        (["--", "--lang", "vi"], ["--", "--lang", "vi"], None),
        (["sample", "x"], ["sample", "x"], None),
    ],
)
def test_lang_is_taken_out_of_the_command_line_wherever_it_stands(argv, rest, chosen):
    assert cli_lang.take(argv) == (rest, chosen)


def test_a_bad_lang_on_the_command_line_is_refused_plainly(capsys, monkeypatch):
    monkeypatch.delenv("LANGUAGE", raising=False)
    monkeypatch.setenv("LANG", "C")
    monkeypatch.delenv(i18n.ENV_VAR, raising=False)
    argv, code = cli_lang.apply(["--lang", "fr"])
    assert code == 2
    assert "torchdeck does not speak 'fr' (use one of: en, vi)" in capsys.readouterr().err
    argv, code = cli_lang.apply(["--lang"])
    assert code == 2
    assert "--lang needs a language (--lang vi or --lang en)" in capsys.readouterr().err
    assert cli_lang.apply(["--lang", "vi", "ls"]) == (["ls"], None)
    assert i18n.language() == "vi"


def test_the_shipped_catalog_is_a_compiled_gettext_file():
    with open(i18n.LOCALE_DIR / "vi" / "LC_MESSAGES" / "torchdeck.mo", "rb") as f:
        catalog = gettext.GNUTranslations(f)
    assert catalog.info()["language"] == "vi"
    assert catalog.gettext("use one of: {choices}") == "hãy chọn một trong: {choices}"


@pytest.fixture
def broken_catalog(tmp_path, monkeypatch):
    """A Vietnamese catalog that is not one (a truncated or foreign file), read afresh."""
    folder = tmp_path / "vi" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "torchdeck.mo").write_bytes(b"not a catalog")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    monkeypatch.setattr(i18n, "_catalogs", {})
    monkeypatch.delenv(i18n.ENV_VAR, raising=False)
    return folder / "torchdeck.mo"


def test_an_unreadable_catalog_is_a_clear_error_and_the_language_stays(broken_catalog):
    with pytest.raises(ConfigError) as err:
        i18n.set_language("vi")
    assert err.value.message.startswith(f"the Tiếng Việt texts cannot be read ({broken_catalog}: ")
    assert err.value.hint == "reinstall torchdeck; --lang en works meanwhile"
    assert i18n.language() == "en"


def test_a_locale_whose_catalog_is_unreadable_falls_back_to_english(
    broken_catalog, capsys, monkeypatch
):
    said = i18n.from_environment_or_english({"LANG": "vi_VN.UTF-8"})
    assert said and "cannot be read" in said and i18n.language() == "en"
    for var in (*i18n.LOCALE_VARS, i18n.ENV_VAR):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "vi_VN.UTF-8")
    assert cli_lang.apply(["ls"]) == (["ls"], None)  # the command goes on, in English
    assert "torchdeck: warning: the Tiếng Việt texts cannot be read" in capsys.readouterr().err
    assert cli_lang.apply(["--lang", "vi", "ls"])[1] == 2  # asked for by name: refused
    assert "reinstall torchdeck" in capsys.readouterr().err


def test_an_engine_greets_a_client_whose_language_it_cannot_read(broken_catalog):
    from core.contract.link import HelloArgs
    from core.link_ops import engine_ops

    engine = type("E", (), {"reply_to": None, "engine_info": lambda self: "info"})()
    hello, _spec = engine_ops(engine)["hello"]
    from core.protocol import PROTOCOL_VERSION

    args = HelloArgs.from_args("hello", {"protocol": PROTOCOL_VERSION, "lang": "vi"})
    assert hello(args) == "info" and i18n.language() == "en"
