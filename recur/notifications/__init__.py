"""E-mail: what recur tells subscribers and producers, rendered from templates and kept in an outbox until an
SMTP server accepts it. Below the consumers and the scheduler that decide to send, above the domain."""
