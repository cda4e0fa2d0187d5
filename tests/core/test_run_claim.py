"""core.run_claim: one engine autosaves into a folder at a time (the lock file's life)."""

from __future__ import annotations

import json

import pytest

from core.run_claim import LOCK_NAME, FolderClaim, FolderTaken


def test_a_claim_names_its_holder_refuses_a_second_and_is_gone_once_released(tmp_path):
    folder = tmp_path / "runs" / "torchdeck"  # made by the claim
    first, second = FolderClaim(), FolderClaim()
    first.claim(folder, {"id": "4242", "pid": 4242, "host": "box"})
    lock = folder / LOCK_NAME
    assert json.loads(lock.read_text()) == {"id": "4242", "pid": 4242, "host": "box"}
    first.claim(folder / ".." / "torchdeck", {"id": "4242"})  # the same folder: kept
    with pytest.raises(FolderTaken) as info:
        second.claim(folder, {"id": "7"})
    assert info.value.message == (
        f"engine 4242 autosaves its run in {folder}; a second run here would write over its "
        "checkpoint"
    )
    assert info.value.hint.startswith("torchdeck attach 4242 shows that run, torchdeck stop 4242")
    assert second.folder is None
    first.release()
    assert not lock.exists() and first.folder is None
    second.claim(folder, {"id": "7"})
    assert json.loads(lock.read_text())["id"] == "7"
    first.claim(tmp_path / "elsewhere", {"id": "4242"})  # another folder is free
    second.claim(tmp_path / "elsewhere2", {"id": "7"})  # moving on lets go of the first
    assert not lock.exists()
    first.claim(folder, {"id": "4242"})
    assert first.folder == folder.resolve()


def test_a_folder_that_cannot_be_made_is_left_unclaimed(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    claim = FolderClaim()
    claim.claim(blocker / "run", {"id": "1"})  # the autosave says why, when it writes
    assert claim.folder is None


def test_a_stale_lock_file_of_a_dead_engine_is_taken_over(tmp_path):
    (tmp_path / LOCK_NAME).write_text('{"id": "999"}', encoding="utf-8")  # nobody holds it
    claim = FolderClaim()
    claim.claim(tmp_path, {"id": "5"})
    assert json.loads((tmp_path / LOCK_NAME).read_text()) == {"id": "5"}
