"""The fault matrix: each file here reproduces faults found when the app was attacked (a hostile
user, a bad network, a full disk, odd files) and checks what the person now sees instead.

To add a case: find the file for the part that failed (corpus, protocol, headless, checkpoint,
autosave), copy the nearest test, change the attack. Fixtures from tests/core/conftest.py are
not visible here; each file builds what it needs from tmp_path.
"""
