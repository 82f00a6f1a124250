"""Domain errors. The HTTP layer maps them to 409 (state) or 422 (input), never to 500."""


class DomainError(Exception):
    """A rule of the domain refused a command."""

    code = "domain_error"


class InvalidStateError(DomainError):
    """The command is valid in general but not in the aggregate's current state (HTTP 409)."""

    code = "invalid_state"


class RuleViolationError(DomainError):
    """The command's input breaks a business rule (HTTP 422)."""

    code = "rule_violation"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
