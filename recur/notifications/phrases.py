"""Words several kinds of e-mail share, per locale: how a payment method, a decline code, a report are named.

They are Python rather than Jinja macros on purpose: a macro defined in a text template and called from an
HTML one returns its output marked safe without having escaped it (Jinja decides escaping by the caller,
compiles the macro by its own file), so a product named `<script>` would reach the HTML part raw. Plain
strings from here are escaped by the HTML templates like any other value, and left alone by the text ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from recur.notifications.formatting import card_brand


@dataclass(frozen=True)
class Words:
    card: str  # with {brand} and {last4}, each filled from the two patterns below or left empty
    brand: str
    last4: str
    boleto: str
    other_method: str
    decline_reasons: Mapping[str, str]
    generic_decline: str
    reports: Mapping[str, str]
    frequencies: Mapping[str, str]


# Lost, stolen and closed cards read like any card the bank no longer accepts: the mail may be read by
# someone other than the cardholder, and it is the bank's place to say more.
WORDS = {
    "pt-BR": Words(
        card="cartão{brand}{last4}",
        brand=" {}",
        last4=" final {}",
        boleto="boleto",
        other_method="forma de pagamento cadastrada",
        decline_reasons={
            "insufficient_funds": "O banco informou saldo ou limite insuficiente.",
            "card_declined": "O banco emissor do cartão recusou a transação.",
            "do_not_honor": "O banco emissor do cartão não autorizou a transação; ele pode informar o motivo se você entrar em contato.",
            "expired_card": "O cartão está vencido.",
            "stolen_card": "O banco emissor informou que este cartão não pode mais ser usado.",
            "lost_card": "O banco emissor informou que este cartão não pode mais ser usado.",
            "invalid_account": "O banco emissor informou que este cartão não pode mais ser usado.",
            "card_not_supported": "Este cartão não aceita este tipo de cobrança.",
            "processing_error": "Houve uma falha técnica ao processar o pagamento, e nenhum valor foi cobrado.",
            "authentication_required": "O banco emissor pediu que você confirme o pagamento pessoalmente, o que uma cobrança "
            "automática não pode fazer; cadastre o cartão novamente, confirmando-o quando o banco pedir.",
            "boleto_expired": "O boleto venceu sem que o pagamento fosse identificado.",
        },
        generic_decline="O pagamento não foi aprovado.",
        reports={"sales": "vendas", "subscriptions": "assinaturas", "installments": "parcelas"},
        frequencies={"daily": "diário", "weekly": "semanal", "monthly": "mensal"},
    ),
    "en": Words(
        card="{brand}card{last4}",
        brand="{} ",
        last4=" ending in {}",
        boleto="boleto",
        other_method="payment method on file",
        decline_reasons={
            "insufficient_funds": "Your bank reported insufficient funds or credit limit.",
            "card_declined": "Your card issuer declined the payment.",
            "do_not_honor": "Your card issuer did not authorize the payment; they can tell you why if you contact them.",
            "expired_card": "The card has expired.",
            "stolen_card": "Your card issuer reported that this card can no longer be used.",
            "lost_card": "Your card issuer reported that this card can no longer be used.",
            "invalid_account": "Your card issuer reported that this card can no longer be used.",
            "card_not_supported": "This card does not support this type of payment.",
            "processing_error": "A technical error occurred while processing the payment, and you were not charged.",
            "authentication_required": "Your card issuer asked you to confirm the payment yourself, which an automatic charge "
            "cannot do; add your card again and confirm it when your bank asks.",
            "boleto_expired": "The boleto expired before a payment was recorded.",
        },
        generic_decline="The payment was not approved.",
        reports={"sales": "sales", "subscriptions": "subscriptions", "installments": "installments"},
        frequencies={"daily": "daily", "weekly": "weekly", "monthly": "monthly"},
    ),
}


def words(locale: str) -> Words:
    try:
        return WORDS[locale]
    except KeyError:
        raise ValueError(f"no words for locale {locale!r}") from None


def payment_method(method: Mapping[str, Any], locale: str) -> str:
    """cartão Visa final 4242 / Visa card ending in 4242 / boleto; brand and last 4 only when known."""
    vocabulary = words(locale)
    if method["type"] == "card":
        brand = card_brand(method.get("brand"))
        last4 = method.get("last4")
        return vocabulary.card.format(brand=vocabulary.brand.format(brand) if brand else "",
                                      last4=vocabulary.last4.format(last4) if last4 else "")
    if method["type"] == "boleto":
        return vocabulary.boleto
    return vocabulary.other_method


def decline_reason(code: str | None, locale: str) -> str:
    """A decline code in one plain sentence; a code not listed gets the generic one rather than jargon."""
    vocabulary = words(locale)
    return vocabulary.decline_reasons.get(code or "", vocabulary.generic_decline)


def report_name(report: str, locale: str) -> str:
    return words(locale).reports.get(report, report)


def frequency(value: str, locale: str) -> str:
    return words(locale).frequencies.get(value, value)


def subscription_name(product_name: str | None, plan_name: str | None, producer_name: str) -> str:
    """What was subscribed to: product and plan, whichever is known, or the producer when neither is."""
    if product_name and plan_name:
        return f"{product_name} ({plan_name})"
    return product_name or plan_name or producer_name
