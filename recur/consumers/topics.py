"""The public topics (a contract: see docs/asyncapi.yaml) and which aggregate publishes where."""

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
}
