"""`POST /email/events`: where SendGrid's Event Webhook reports what became of each email.

CSRF-exempt (SendGrid cannot hold a token; its ECDSA signature stands in for one) and rate
limited per client address (`EMAIL_EVENTS_RATE_LIMIT`). A refused batch gets 403 and changes
nothing; SendGrid retries anything that is not a 2xx for up to a day.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, jsonify, request

from leadform.extensions import limiter
from leadform.messages import events
from leadform.models import utcnow

logger = logging.getLogger(__name__)
bp = Blueprint("email_events", __name__)
# SendGrid posts a batch every 30 s or at about 768 KB; the app-wide limit is for forms.
MAX_BATCH_BYTES = 2 * 1024 * 1024


def _rate_limit() -> str:
    return current_app.config["EMAIL_EVENTS_RATE_LIMIT"]


@bp.post("/email/events")
@limiter.limit(_rate_limit)
def sendgrid_events():
    """Verify a signed batch of SendGrid events and record each new one; 403 if refused."""
    request.max_content_length = MAX_BATCH_BYTES
    body = request.get_data(cache=False)
    try:
        events.verify_batch(
            body,
            request.headers,
            verifier=events.verifier_of(current_app),
            max_age=float(current_app.config["SENDGRID_EVENT_MAX_AGE_SECONDS"]),
            now=time.time(),
        )
        batch = events.parse_batch(body)
    except events.MalformedBatchError as exc:
        logger.warning("SendGrid event batch unreadable: %s", exc)
        return jsonify(status="malformed"), 400
    except events.EventWebhookError as exc:
        logger.warning("SendGrid event batch refused: %s", exc)
        return jsonify(status="refused"), 403
    report = events.record_batch(batch, utcnow())
    logger.info(
        "SendGrid events: %s recorded, %s duplicate, %s ignored",
        report.recorded,
        report.duplicates,
        report.ignored,
    )
    return jsonify(status="ok", recorded=report.recorded, duplicates=report.duplicates)
