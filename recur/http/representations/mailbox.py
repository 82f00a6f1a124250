"""The sandbox outbox: the messages the local SMTP sink received, as `recur.projections.queries.mailbox` reads them."""

from __future__ import annotations

from marshmallow import Schema, fields

from recur.http.representations import kit
from recur.http.representations.kit import instant, nested, page_of, representation, text


@representation
class AttachmentView(Schema):
    filename = text("the name the message gives it", allow_none=True)
    content_type = text("its MIME type, e.g. text/csv")
    size = fields.Integer(metadata={"description": "bytes, once decoded"})


@representation
class ReceivedEmailView(Schema):
    id = text("the message's number in the sandbox mailbox")
    to = fields.List(fields.String(), metadata={"description": "the envelope's recipients (what the server was asked to "
                                                "deliver to, Bcc included)"})
    from_ = text("the From header, decoded; null when the message has none", data_key="from", attribute="from", allow_none=True)
    kind = text("the message's X-Recur-Kind header (renewal_reminder, charge_failed, report, ...); null when it has none",
                allow_none=True)
    subject = text("decoded; null when the message has none", allow_none=True)
    sent_at = instant("the message's Date header: when recur decided to send it, on its clock (the sandbox clock's time in "
                      "the sandbox); null when the message has no readable Date", allow_none=True)
    received_at = instant("when the sink received it (wall-clock time)")
    size = fields.Integer(metadata={"description": "the whole message in bytes, as received"})
    attachments = fields.List(nested(AttachmentView))


@representation
class ReceivedEmailWithBodiesView(ReceivedEmailView):
    text = kit.text("the text/plain body, decoded; null when there is none", allow_none=True)  # `text` is this field here
    html = kit.text("the text/html body, decoded; null when there is none", allow_none=True)


ReceivedEmailPageView = page_of(ReceivedEmailView, "ReceivedEmailPageView")
