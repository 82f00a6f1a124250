"""The public event contract: topic names, a versioned schema per event, the encoding of messages, and the
documents generated from them (docs/asyncapi.yaml, the tables of docs/EVENTS.md).

It sits below consumers, projections and http, and imports only the domain: the relay's encoder, the
rebuild, the HTTP history and the docs all read the same declarations.

- topics.py: topic names, which aggregate publishes where.
- fields.py, values.py: field kinds and shared value objects (money, plan terms, ...).
- subscription_events.py, subscription_changes.py, subscription_notices.py, subscription_refunds.py,
  catalog_events.py: one schema per event.
- registry.py / events.py: `CONTRACT`, which internal event class each schema publishes, its version,
  its private fields, and the check that the two still agree (`drift`).
- envelope.py: the JSON envelope and CloudEvents headers around the data.
- dumping.py, encoding.py: serialising through a schema; `public_view` (an event's public data) and
  `EventEncoder` (the Kafka message).
- asyncapi.py (+ asyncapi_examples.py), events_doc.py, documents.py: the generated documents
  (`recur contract docs` writes them, `--check` compares).
"""
