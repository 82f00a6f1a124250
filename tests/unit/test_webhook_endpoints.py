"""A webhook endpoint's rules: the URL's shape, a filter of real event types, the previous secret valid for a day after
a rotation, disabled by recur only after 5 days of failures counted from when it was last enabled, and nothing after
it is deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from recur.domain.actor import system_actor
from recur.domain.errors import InvalidStateError, RuleViolationError
from recur.domain.webhooks import WebhookEndpoint

KNOWN = ("subscription.cancelled", "subscription.charge_failed")
T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
ACTOR = system_actor()


def endpoint(url: str = "https://crm.example.com/hooks", event_types: list[str] | None = None) -> WebhookEndpoint:
    return WebhookEndpoint.register(producer_id="p-1", url=url, event_types=event_types or [], known_types=KNOWN, description=None,
                                    secret_id="s-1", created_at=T0, actor=ACTOR)


@pytest.mark.parametrize("url", ["ftp://crm.example.com/", "https://", "crm.example.com/hooks", "https://user:pw@crm.example.com/",
                                 "https://crm.example.com/#top", "https://crm.example.com:99999/", "https://crm.example.com/a b",
                                 "https://x.example/" + "a" * 2100])
def test_a_url_that_is_not_an_absolute_http_url_without_credentials_is_refused(url: str) -> None:
    with pytest.raises(RuleViolationError) as refused:
        endpoint(url)
    assert refused.value.field == "url"


def test_the_filter_takes_known_types_once_each_and_empty_means_every_type() -> None:
    assert endpoint(event_types=["subscription.cancelled", "subscription.cancelled"]).event_types == ["subscription.cancelled"]
    assert endpoint().receives("subscription.charge_failed") and endpoint().receives("subscription.anything_added_later")
    assert not endpoint(event_types=["subscription.cancelled"]).receives("subscription.charge_failed")
    with pytest.raises(RuleViolationError, match="not an event type"):
        endpoint(event_types=["subscription.charge_refunded_twice"])


def test_after_a_rotation_both_secrets_sign_for_24_hours_then_only_the_new_one() -> None:
    hook = endpoint()
    hook.rotate_secret("s-2", T0, ACTOR)
    assert hook.signing_secret_ids(T0 + timedelta(hours=23, minutes=59)) == ["s-2", "s-1"]
    assert hook.signing_secret_ids(T0 + timedelta(hours=24)) == ["s-2"]
    hook.rotate_secret("s-3", T0 + timedelta(hours=1), ACTOR)
    assert hook.signing_secret_ids(T0 + timedelta(hours=2)) == ["s-3", "s-2"]  # the oldest is gone at once


def test_recur_disables_it_only_after_five_days_of_failures_since_it_was_last_enabled() -> None:
    hook = endpoint()
    assert not hook.disable_for_failing(T0, T0 + timedelta(days=4, hours=23), ACTOR)
    hook.disable(T0 + timedelta(days=1), ACTOR)
    hook.enable(T0 + timedelta(days=2), ACTOR)
    assert not hook.disable_for_failing(T0, T0 + timedelta(days=6), ACTOR)  # enabled 4 days before: the old streak does not count
    assert hook.disable_for_failing(T0, T0 + timedelta(days=7), ACTOR)
    assert (hook.status, hook.disabled_reason, hook.enabled) == ("disabled", "failing", False)
    assert not hook.disable_for_failing(T0, T0 + timedelta(days=8), ACTOR)  # already off: no second event


def test_only_what_changes_is_recorded_and_a_deleted_endpoint_changes_no_more() -> None:
    hook = endpoint()
    hook.revise({"url": "https://crm.example.com/hooks", "description": "CRM"}, KNOWN, T0, ACTOR)
    changed = hook.collect_events()[-1]
    assert changed.changes == {"description": "CRM"}  # type: ignore[attr-defined]
    hook.delete(T0, ACTOR)
    for verb in (lambda: hook.enable(T0, ACTOR), lambda: hook.rotate_secret("s-9", T0, ACTOR), lambda: hook.delete(T0, ACTOR)):
        with pytest.raises(InvalidStateError):
            verb()
    assert not hook.enabled and hook.signing_secret_ids(T0) == ["s-1"]
