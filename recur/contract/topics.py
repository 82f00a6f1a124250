"""The public topics (a contract: see docs/asyncapi.yaml, generated from recur.contract) and which aggregate publishes where."""

SUBSCRIPTIONS = "recur.subscriptions.v1"
CATALOG = "recur.catalog.v1"
ALL = [SUBSCRIPTIONS, CATALOG]
PARTITIONS = 6

TOPIC_OF_AGGREGATE = {
    "Subscription": SUBSCRIPTIONS,
    "Producer": CATALOG,
    "Product": CATALOG,
    "Plan": CATALOG,
    "Offer": CATALOG,
    "ReportSchedule": CATALOG,  # a producer's own settings, beside its catalog
    "WebhookEndpoint": CATALOG,  # likewise
}

# Events a consumer or the relay could not handle, with the error (see recur.consumers.dead_letters).
# Not an event topic: operators and alerting read it; the dead_letters table is what `retry-dead` works from.
DEAD_LETTERS = "recur.dead-letters.v1"
# Checkpoints of the event log's hash chain (see recur.commands.audit_checkpoints): auditors keep them to prove
# later that the history up to each was not rewritten. Not an event topic either; key "recur.audit", one partition's order.
AUDIT = "recur.audit.v1"
PROVISIONED = [*ALL, DEAD_LETTERS, AUDIT]
