"""The application layer: command handlers on the eventsourcing Application, the gateway port and
sandbox gateway, the clock, and the billing scheduler."""
