"""The command line in Vietnamese: ``--lang vi`` turns every parser's help (argparse's own words
included: ``usage:``, ``options``, its errors) and the CLI's messages into Vietnamese; without it,
under ``LANG=C`` or no LANG, the English is as it was. The catalog's argparse entries keep
argparse's ``%`` placeholders. The Vietnamese catalog read is the shipped one.
"""

from __future__ import annotations

import gettext
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core import i18n

ROOT = Path(__file__).resolve().parents[2]
PERCENT = re.compile(r"%(?:\(\w+\))?[#0\- +]*\d*(?:\.\d+)?[sdrif%]")


def _translates(folder: Path) -> bool:
    mo = folder / "vi" / "LC_MESSAGES" / f"{i18n.DOMAIN}.mo"
    if not mo.is_file():
        return False
    with open(mo, "rb") as f:
        return gettext.GNUTranslations(f).gettext("usage: ") != "usage: "


@pytest.fixture(scope="module")
def vi_dir() -> Path:
    """The shipped Vietnamese catalog, which holds the command line's texts."""
    assert _translates(i18n.LOCALE_DIR)
    return i18n.LOCALE_DIR


@pytest.fixture
def vietnamese(vi_dir):
    """This process in Vietnamese, argparse's texts included (English again afterwards)."""
    from cli import argparse_texts

    argparse_texts.install()
    i18n.set_language("vi")
    yield
    i18n.set_language("en")


def _cli(*args: str, lang: str | None = None):
    env = {k: v for k, v in os.environ.items() if k not in (*i18n.LOCALE_VARS, i18n.ENV_VAR)}
    env["PYTHONIOENCODING"] = "utf-8"
    if lang is not None:
        env["LANG"] = lang
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        encoding="utf-8",
        timeout=120,
    )


def test_top_help_in_vietnamese(vi_dir):
    out = _cli("--lang", "vi", "--help")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert text.startswith("cách dùng: torchdeck [-h]")
    assert "\ntuỳ chọn:\n" in text and "\nđối số vị trí:\n" in text
    assert "hiện trợ giúp này rồi thoát" in text
    assert "Phòng thí nghiệm PyTorch trong terminal." in text
    assert "huấn luyện không giao diện" in text  # a subcommand's line
    assert "usage:" not in text and "show this help" not in text


def test_train_help_in_vietnamese(vi_dir):
    out = _cli("train", "--lang", "vi", "--help")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert text.startswith("cách dùng: torchdeck train [-h]")
    assert "tổng số bước optimizer" in text  # --steps
    assert "nhiều tiến trình hoặc nhiều máy (torchrun, DDP):" in text  # a group's title
    assert "số head attention mỗi khối" in text  # a model setting (cli.settings_args)


def test_a_bad_value_is_refused_in_vietnamese(vi_dir):
    out = _cli("--lang", "vi", "train", "--steps", "abc")
    assert out.returncode == 2
    assert out.stderr.startswith("torchdeck train: lỗi: đối số --steps: ")
    assert out.stderr.endswith("\ngợi ý: xem `torchdeck train --help`\n")
    missing = _cli("sample", "--lang=vi")
    assert "torchdeck sample: lỗi: thiếu các đối số bắt buộc: --checkpoint" in missing.stderr


@pytest.mark.parametrize("lang", [None, "C"])
def test_english_without_lang(vi_dir, lang):
    out = _cli("--help", lang=lang)
    assert out.stdout.startswith("usage: torchdeck [-h]")
    assert "\noptions:\n" in out.stdout and "show this help message and exit" in out.stdout
    assert "A terminal lab for PyTorch. With no command: open the app." in out.stdout
    bad = _cli("train", "--steps", "abc", lang=lang)
    assert bad.returncode == 2
    assert "torchdeck train: error: argument --steps: " in bad.stderr
    assert "lỗi" not in bad.stderr


def test_percent_placeholders_kept(vi_dir):
    """argparse fills its texts with ``%``: every translation keeps its msgid's ``%`` fields,
    and adds none (a help text with a stray ``%`` breaks argparse's formatting)."""
    from core.i18n_catalog import extract_python_file

    with open(vi_dir / "vi" / "LC_MESSAGES" / f"{i18n.DOMAIN}.mo", "rb") as f:
        catalog = gettext.GNUTranslations(f)
    checked = 0
    for path in sorted((ROOT / "cli").glob("*.py")):
        with open(path, "rb") as f:
            for _lineno, _func, message, _comments in extract_python_file(f):
                ids = message if isinstance(message, tuple) else (message,)
                if not ids[0]:
                    continue
                text = (
                    catalog.ngettext(ids[0], ids[1], 2) if len(ids) > 1 else catalog.gettext(ids[0])
                )
                if "%" not in ids[0] and text != ids[0] and "%" in text:
                    # a label's literal per cent ("% busy"), never a placeholder
                    assert not PERCENT.search(text.replace("% ", "")), (ids[0], text)
                    continue
                assert sorted(PERCENT.findall(text)) == sorted(PERCENT.findall(ids[0])), (
                    ids[0],
                    text,
                )
                checked += "%" in ids[0]
    assert checked >= 20  # argparse's own texts are among them


def test_every_parser_formats_its_help_in_vietnamese(vietnamese):
    from cli import main, plot, serve

    parser = main.build_parser()
    subparsers = parser._subparsers._group_actions[0].choices
    texts = [parser.format_help(), plot.build_parser().format_help()]
    texts += [serve.build_parser().format_help()]
    texts += [p.format_help() for name, p in subparsers.items() if name in ("train", "sample")]
    texts += [p.format_help() for name, p in subparsers.items() if name in ("ls", "stop")]
    for text in texts:
        assert text.startswith("cách dùng: ")
        assert "tuỳ chọn:" in text


def test_inspect_help_in_vietnamese(vi_dir):
    out = _cli("inspect", "--lang", "vi", "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("cách dùng: torchdeck inspect")
    assert "In các lớp của mô hình" in out.stdout


def test_ls_table_columns_line_up_in_vietnamese(vietnamese):
    from rich.cells import cell_len

    from cli.engines import table

    engine = {
        "id": "4242",
        "preset": "gpt",
        "device": "cuda:0",
        "state": "running",
        "step": 50,
        "steps": 1000,
        "loss": 2.25,
        "val_loss": None,
        "tokens_per_s": 12000.0,
        "started": 0,
        "clients": 2,
        "detached": True,
        "run_dir": "/runs/a",
    }
    head, row, extra = table([engine]).splitlines()
    assert head.startswith("ID    MÔ HÌNH  THIẾT BỊ  TRẠNG THÁI  BƯỚC     LOSS")
    for word, value in (("TRẠNG THÁI", "đang chạy"), ("BƯỚC", "50/1000"), ("LOSS", "2.2500")):
        assert cell_len(head[: head.index(word)]) == cell_len(row[: row.index(value)])
    assert extra.strip() == "2 client đã gắn · tách rời · lần chạy /runs/a"


def test_argparse_follows_the_language_live(vietnamese):
    import argparse

    assert argparse._("usage: ") == "cách dùng: "
    assert argparse.ngettext("expected %s argument", "expected %s arguments", 2) == "cần %s đối số"
    i18n.set_language("en")
    assert argparse._("usage: ") == "usage: "


def test_a_vietnamese_remote_is_understood(vietnamese):
    """A remote torchdeck that speaks Vietnamese (ssh passes LANG on): its refusals and an
    old version's argparse errors are still read."""
    from cli.ssh import TOO_OLD, diagnose, remote_refusal

    said = "lỗi: không có engine nào ở đây\ngợi ý: torchdeck ls liệt kê các engine\n"
    refusal = remote_refusal("box", 3, said)
    assert refusal.message == "box: không có engine nào ở đây"
    assert refusal.hint == "torchdeck ls liệt kê các engine"
    old = "torchdeck: lỗi: đối số COMMAND: lựa chọn không hợp lệ: 'bridge' (chọn trong 'ls')\n"
    found = diagnose("box", "torchdeck", 2, old)
    assert found is not None and found.exit_code == TOO_OLD
    assert "'bridge'" in found.message
    i18n.set_language("en")  # this side in English, the remote still in Vietnamese
    found = diagnose("box", "torchdeck", 2, "torchdeck: lỗi: đối số không nhận ra: --spawn\n")
    assert found is not None and found.message.endswith("it has no --spawn")
    assert remote_refusal("box", 3, said).message == "box: không có engine nào ở đây"
