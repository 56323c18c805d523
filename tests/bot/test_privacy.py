"""User ids and event keys are hashed with a salt each server holds, never with a process-wide global."""

from __future__ import annotations

import stat

from bot.privacy import SALT_FILE, UserHasher


def test_the_same_salt_gives_the_same_hash_and_a_different_salt_another():
    one, same, other = UserHasher("salt-a"), UserHasher("salt-a"), UserHasher("salt-b")
    assert one.user("slack:T1:U1") == same.user("slack:T1:U1")
    assert one.user("slack:T1:U1") != other.user("slack:T1:U1")
    assert "U1" not in one.user("slack:T1:U1") and len(one.user("slack:T1:U1")) == 32


def test_two_hashers_in_one_process_do_not_share_a_salt():
    assert UserHasher().user("teams:x:y") != UserHasher().user("teams:x:y")


def test_an_event_key_keeps_its_kind_readable_and_hashes_every_id():
    key = UserHasher("s").event_key("teams-greet:conv-1:29:member-7")
    kind, _, rest = key.partition(":")
    assert kind == "teams-greet" and "conv-1" not in rest and "member-7" not in rest


def test_without_an_explicit_salt_one_is_generated_once_in_the_data_dir_and_kept_private(tmp_path):
    first = UserHasher.for_server(None, tmp_path)
    again = UserHasher.for_server(None, tmp_path)
    assert first.user("u") == again.user("u")  # stable across restarts of one server
    assert stat.S_IMODE((tmp_path / SALT_FILE).stat().st_mode) == 0o600


def test_an_explicit_salt_wins_over_the_data_dir_so_replicas_agree(tmp_path):
    a = UserHasher.for_server("shared", tmp_path / "a")
    b = UserHasher.for_server("shared", tmp_path / "b")
    assert a.user("u") == b.user("u")
    assert not (tmp_path / "a" / SALT_FILE).exists()


def test_an_unwritable_data_dir_falls_back_to_a_salt_for_this_run(tmp_path, caplog):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    hasher = UserHasher.for_server(None, blocked)
    assert len(hasher.user("u")) == 32
    assert "cannot keep a hash salt" in caplog.text


def test_the_salt_never_appears_in_the_repr():
    assert "hunter2" not in repr(UserHasher("hunter2"))
