"""Every public event: importing this module declares them all (in document order) on `CONTRACT`."""

from __future__ import annotations

from recur.contract import catalog_events, subscription_changes, subscription_events, subscription_notices, subscription_refunds
from recur.contract.registry import CONTRACT, ContractViolationError, EventContract, NotInContractError

DECLARATIONS = (subscription_events, subscription_changes, subscription_notices, subscription_refunds, catalog_events)

__all__ = ["CONTRACT", "DECLARATIONS", "ContractViolationError", "EventContract", "NotInContractError"]
