"""Secrets recur must use again are sealed under the master key: they open only with that key, for their purpose and
their row; any other key is a clear error naming both keys, never garbage; the key's bytes are never printed."""

from __future__ import annotations

import base64

import pytest

from recur.sealing import MasterKey, MasterKeyError, generate_master_key


def key() -> MasterKey:
    return MasterKey.from_setting(generate_master_key())


def test_a_sealed_secret_opens_with_its_key_purpose_and_row_and_does_not_show_in_the_sealed_bytes() -> None:
    master = key()
    sealed = master.sealer("webhook secrets").seal(b"whsec_abc", b"endpoint-1:secret-1")
    assert b"whsec_abc" not in sealed
    assert master.sealer("webhook secrets").open(sealed, b"endpoint-1:secret-1") == b"whsec_abc"
    assert master.sealer("webhook secrets").seal(b"whsec_abc", b"endpoint-1:secret-1") != sealed  # a fresh nonce each time


def test_a_sealed_secret_moved_to_another_row_or_purpose_does_not_open() -> None:
    master = key()
    sealed = master.sealer("webhook secrets").seal(b"whsec_abc", b"endpoint-1:secret-1")
    with pytest.raises(MasterKeyError, match="does not open"):
        master.sealer("webhook secrets").open(sealed, b"endpoint-2:secret-1")
    with pytest.raises(MasterKeyError, match="does not open"):
        master.sealer("personal data").open(sealed, b"endpoint-1:secret-1")


def test_another_master_key_is_named_as_such() -> None:
    first, second = key(), key()
    sealed = first.sealer("webhook secrets").seal(b"whsec_abc", b"row")
    with pytest.raises(MasterKeyError, match=f"sealed under master key {first.key_id}.*key {second.key_id}"):
        second.sealer("webhook secrets").open(sealed, b"row")


@pytest.mark.parametrize(("setting", "complaint"), [
    (None, "RECUR_MASTER_KEY is not set"),
    ("", "RECUR_MASTER_KEY is not set"),
    ("not base64!", "not valid base64"),
    (base64.b64encode(b"x" * 16).decode(), "exactly 32 bytes, not 16"),
])
def test_a_missing_or_malformed_master_key_is_a_clear_error(setting: str | None, complaint: str) -> None:
    with pytest.raises(MasterKeyError, match=complaint):
        MasterKey.from_setting(setting)


def test_the_key_never_appears_in_its_repr_nor_the_settings_repr() -> None:
    from recur.settings import Settings

    raw = generate_master_key()
    master = MasterKey.from_setting(raw)
    assert raw not in repr(master) and str(master.key) not in repr(master)
    assert raw not in repr(Settings.from_env({"RECUR_MASTER_KEY": raw}))
    assert Settings.from_env({"RECUR_MASTER_KEY": raw}).as_env()["RECUR_MASTER_KEY"] == raw  # `recur up` hands it to its children
