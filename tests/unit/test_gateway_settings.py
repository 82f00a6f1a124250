"""RECUR_GATEWAY chooses the payment gateway; a choice that cannot work is refused when recur starts, not at the first
charge, and the Stripe key never shows in a printed settings object."""

from __future__ import annotations

import pytest

from recur.settings import STRIPE_API_BASE, Settings, SettingsError


def test_the_sandbox_is_the_gateway_unless_told_otherwise() -> None:
    settings = Settings.from_env({})

    assert (settings.gateway, settings.stripe_api_key, settings.stripe_api_base) == ("sandbox", None, STRIPE_API_BASE)


def test_stripe_without_its_api_key_is_refused_with_the_setting_to_give() -> None:
    with pytest.raises(SettingsError, match="RECUR_STRIPE_API_KEY"):
        Settings.from_env({"RECUR_GATEWAY": "stripe"})
    with pytest.raises(SettingsError, match="RECUR_STRIPE_API_KEY"):
        Settings.from_env({"RECUR_GATEWAY": "stripe", "RECUR_STRIPE_API_KEY": ""})


def test_a_gateway_recur_does_not_have_is_refused() -> None:
    with pytest.raises(SettingsError, match="sandbox, stripe"):
        Settings.from_env({"RECUR_GATEWAY": "paypal"})


def test_child_processes_get_the_same_gateway_key_base_and_secret() -> None:
    given = {"RECUR_GATEWAY": "Stripe", "RECUR_STRIPE_API_KEY": "sk_test_child", "RECUR_STRIPE_API_BASE": "http://127.0.0.1:8420/",
             "RECUR_STRIPE_WEBHOOK_SECRET": "whsec_child"}
    settings = Settings.from_env(given)

    again = Settings.from_env(settings.as_env())

    assert (again.gateway, again.stripe_api_key, again.stripe_api_base, again.stripe_webhook_secret) == (
        "stripe", "sk_test_child", "http://127.0.0.1:8420", "whsec_child")


def test_the_stripe_secrets_are_not_in_a_printed_settings_object() -> None:
    settings = Settings.from_env({"RECUR_GATEWAY": "stripe", "RECUR_STRIPE_API_KEY": "sk_live_secret_key",
                                  "RECUR_STRIPE_WEBHOOK_SECRET": "whsec_secret"})

    assert "sk_live_secret_key" not in repr(settings) and "whsec_secret" not in repr(settings)
