"""Producer API keys and subscriber tokens: one format, `<prefix>_<owner id>_<secret>`, kept as a hash."""

from __future__ import annotations

from uuid import uuid4

from recur.commands import credentials


def test_a_credential_names_its_owner_and_matches_only_its_own_hash() -> None:
    secret = credentials.new_secret(credentials.API_KEY)
    owner = uuid4()
    shown = secret.credential(owner)
    assert shown.startswith(f"rk_{owner.hex}_")
    presented = credentials.presented(credentials.API_KEY, shown)
    assert presented is not None and presented.owner_id == owner
    assert presented.matches(secret.hash)
    assert not presented.matches(credentials.new_secret(credentials.API_KEY).hash)
    assert secret.secret not in secret.hash  # only the hash is stored


def test_a_credential_of_another_kind_or_shape_names_no_one() -> None:
    shown = credentials.new_secret(credentials.SUBSCRIBER_TOKEN).credential(uuid4())
    assert credentials.presented(credentials.API_KEY, shown) is None
    assert credentials.presented(credentials.SUBSCRIBER_TOKEN, shown) is not None
    for malformed in ("st_", "st_nothex_secret", "st_" + uuid4().hex, "", "st__x"):
        assert credentials.presented(credentials.SUBSCRIBER_TOKEN, malformed) is None


def test_secrets_with_underscores_survive_the_round_trip() -> None:
    owner = uuid4()
    presented = credentials.presented(credentials.API_KEY, f"rk_{owner.hex}_a_b_c")
    assert presented is not None and (presented.owner_id, presented.secret) == (owner, "a_b_c")
