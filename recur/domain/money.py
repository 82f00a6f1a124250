"""Money as integer minor units with a currency: floats never touch an amount."""

from __future__ import annotations

from dataclasses import dataclass

# The largest amount recur handles: 10^12 minor units (ten billion reais). Read models keep amounts
# and their sums in bigint columns and gateways cap a charge far lower; an amount beyond this would
# be stored in the event log and then fail in every projection that copies it.
MAX_MINOR_UNITS = 10**12


@dataclass(frozen=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount must be an int of minor units")
        if abs(self.amount) > MAX_MINOR_UNITS:
            raise ValueError(f"amount must be at most {MAX_MINOR_UNITS} minor units")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(f"not an ISO 4217 currency code: {self.currency!r}")

    def split(self, parts: int) -> list[Money]:
        """Split into `parts` monthly charges; the remainder goes on the first, as customers expect."""
        if parts < 1:
            raise ValueError("parts must be >= 1")
        base, remainder = divmod(self.amount, parts)
        return [Money(base + (remainder if i == 0 else 0), self.currency) for i in range(parts)]

    def as_dict(self) -> dict[str, int | str]:
        return {"amount": self.amount, "currency": self.currency}

    @classmethod
    def from_dict(cls, data: dict[str, int | str]) -> Money:
        """Refuses fractional or non-numeric amounts rather than truncating them."""
        from recur.domain.errors import RuleViolationError

        amount = data.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise RuleViolationError("amount must be an integer number of minor units", "price")
        try:
            return cls(amount, str(data.get("currency", "")))
        except ValueError as error:
            raise RuleViolationError(str(error), "price") from None
