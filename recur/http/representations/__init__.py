"""What the API answers: one marshmallow schema per JSON shape, the only place each shape is written.

Routes dump what their views return through these schemas (recur/http/routes.py), and the OpenAPI document
publishes them: add a field here and it is served and documented. The schemas read the objects as they are:
aggregates (a subscription, a plan), read-model rows named by their query (recur/projections/queries), dataclasses
of the application (a history entry, a billing run). Where an answer composes values (money from an amount and the
currency beside it, a pending plan change from the pending terms and the period's end), a field says how.

Every field is published as required (the answer always holds the key, null when there is no value) unless its
metadata says `optional` (the key is left out when empty).

Each module holds the shapes of one part of the API: kit (the fields and pages every shape uses), catalog,
subscriptions, reports, report_schedules, operations, mailbox (the sandbox outbox).
"""
