"""Twilio's SMS webhooks: `POST /hotline/sms` and `/hotline/sms/status`.

A text from a registered phone is a command (app.services.hotline.sms_commands); from
any other number it is a help-seeker writing to the hotline
(app.services.hotline.conversations). Replies go through the outbox, written in the
webhook's transaction and delivered right after its commit, which the webhook makes
itself (app.web.unit_of_work.commit_now); the webhook answers an empty TwiML
`<Response/>`. A failed send stays in the outbox row and never fails the webhook. The
signature is checked in app.hotline.
"""

import logging

from flask import Response, abort, request
from sqlalchemy.exc import IntegrityError
from twilio.twiml.messaging_response import MessagingResponse

from app import clock
from app.hotline import bp
from app.services.delivery import sending
from app.services.hotline import conversations, phones, sms_commands
from app.web import unit_of_work
from app.web.delivery import deliver_now

log = logging.getLogger(__name__)


def _twiml() -> Response:
    return Response(str(MessagingResponse()), mimetype="text/xml")


@bp.route("/sms", methods=["POST"])
def sms():
    message_sid = request.form.get("MessageSid", "").strip()
    if not message_sid or len(message_sid) > 64:
        abort(400, "MessageSid is required")
    body = request.form.get("Body", "")
    number = phones.normalise(request.form.get("From"))
    now = clock.now()
    # Registered phones (staff) are never help-seekers, active or not.
    user = sms_commands.sender(number)
    try:
        with unit_of_work.change():
            if user is not None:
                reply = sms_commands.handle(user, body, message_sid, now)
            else:
                reply = conversations.receive(number, body, message_sid, now)
            reply_id = reply.id if reply is not None else None
            unit_of_work.commit_now()
    except IntegrityError:
        # The same MessageSid, handled by a concurrent retry of this webhook.
        log.info("SMS %s from %s was handled concurrently: ignored", message_sid, phones.mask(number))
        reply_id = None
    if reply_id is not None:
        deliver_now(reply_id)
    return _twiml()


@bp.route("/sms/status", methods=["POST"])
def sms_status():
    provider_id = request.form.get("MessageSid", "").strip()
    status = request.form.get("MessageStatus", "").strip()
    if provider_id and status:
        sending.record_provider_status(provider_id, status, request.form.get("ErrorCode") or None, clock.now())
    return _twiml()
