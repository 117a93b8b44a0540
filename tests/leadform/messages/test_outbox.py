"""The outbox worker against a local stand-in for SendGrid, on SQLite and PostgreSQL.

Time is stepped by passing `now`; nothing sleeps for a backoff.
"""

import logging
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.wrappers import Response

from leadform.booking.emails import queue_email
from leadform.db import db
from leadform.messages.outbox import (
    MessageNotFailedError,
    backoff,
    claim_due,
    deliver_due,
    retry_message,
    status_counts,
)
from leadform.messages.senders import SendGridSender
from leadform.models import DeliveryAttempt, OutboxMessage, utcnow
from tests.conftest import ROOT
from tests.leadform.mail_fixtures import (
    API_KEY,
    PROSPECT_EMAIL,
    free_port,
    mail_app,  # noqa: F401 - a fixture
    make_email,
    pg_mail_app,  # noqa: F401 - a fixture
    postgres_url,  # noqa: F401 - a fixture
)

SEND_PATH = "/v3/mail/send"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


class Provider:
    """A SendGrid stand-in on the local HTTP server: answers `status`, counts subjects."""

    def __init__(self, httpserver, status: int = 202):
        self.status = status
        self.delivered: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.url = httpserver.url_for("").rstrip("/")
        httpserver.expect_request(SEND_PATH, method="POST").respond_with_handler(self.handle)

    def handle(self, request):
        """Answer with the current status; count the subject only when accepted."""
        with self.lock:
            if self.status == 202:
                self.delivered[request.get_json()["subject"]] += 1
            return Response("", status=self.status)

    def sender(self) -> SendGridSender:
        """A real SendGridSender pointed at this stand-in."""
        return SendGridSender(API_KEY, host=self.url, timeout=5)


@pytest.fixture(params=BACKENDS)
def app(request):
    """The tiny app on SQLite, or on a fresh PostgreSQL database."""
    name = "mail_app" if request.param == "sqlite" else "pg_mail_app"
    return request.getfixturevalue(name)


def queue(count: int = 1, channel: str = "email") -> list[int]:
    """Queue `count` emails with distinct subjects, commit, return their ids."""
    messages = [queue_email(make_email(subject=f"Message {n}"), kind="test") for n in range(count)]
    for message in messages:
        message.channel = channel
    db.session.commit()
    return [message.id for message in messages]


def message(message_id: int) -> OutboxMessage:
    """A fresh copy of one outbox row."""
    db.session.expire_all()
    return db.session.get(OutboxMessage, message_id)


def attempts_of(message_id: int) -> list[str]:
    """The outcomes of every recorded attempt, oldest first."""
    stmt = select(DeliveryAttempt.outcome).where(DeliveryAttempt.message_id == message_id)
    return list(db.session.scalars(stmt.order_by(DeliveryAttempt.id)))


@pytest.mark.parametrize(
    ("attempts", "seconds"), [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (40, 3600)]
)
def test_backoff_doubles_and_is_capped_at_an_hour(attempts, seconds):
    assert backoff(attempts, 30) == timedelta(seconds=seconds)


def test_a_due_message_is_sent(app, httpserver):
    provider = Provider(httpserver)
    (message_id,) = queue()

    report = deliver_due(provider.sender(), worker_id="w1")

    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    row = message(message_id)
    assert (row.status, row.attempts, row.locked_until) == ("sent", 1, None)
    assert row.sent_at is not None
    assert attempts_of(message_id) == ["sent"]


def test_provider_down_then_back_delivers_each_message_once(app, httpserver):
    provider = Provider(httpserver, status=500)
    ids = queue(5)
    now = utcnow()

    assert deliver_due(provider.sender(), worker_id="w1", now=now).retried == 5
    provider.status = 429
    assert (
        deliver_due(provider.sender(), worker_id="w1", now=now + timedelta(seconds=30)).retried == 5
    )
    provider.status = 202
    later = now + timedelta(seconds=90)
    assert deliver_due(provider.sender(), worker_id="w1", now=later).sent == 5

    assert provider.delivered == Counter({f"Message {n}": 1 for n in range(5)})
    assert {message(i).status for i in ids} == {"sent"}
    assert attempts_of(ids[0]) == ["retry", "retry", "sent"]


def test_nothing_listening_then_back(app, httpserver):
    (message_id,) = queue()
    dead = SendGridSender(API_KEY, host=f"http://127.0.0.1:{free_port()}", timeout=2)
    now = utcnow()

    assert deliver_due(dead, worker_id="w1", now=now).retried == 1
    provider = Provider(httpserver)
    assert deliver_due(provider.sender(), worker_id="w1", now=now + timedelta(seconds=30)).sent == 1

    assert provider.delivered == Counter({"Message 0": 1})
    assert "unreachable" in message(message_id).delivery_attempts[0].error


def test_backoff_schedule_is_kept(mail_app, httpserver):  # noqa: F811
    provider = Provider(httpserver, status=503)
    (message_id,) = queue()
    now = utcnow()
    sender = provider.sender()

    deliver_due(sender, worker_id="w1", now=now)
    first_retry = message(message_id).next_attempt_at
    early = deliver_due(sender, worker_id="w1", now=first_retry - timedelta(seconds=1))
    deliver_due(sender, worker_id="w1", now=first_retry)
    second_retry = message(message_id).next_attempt_at

    assert first_retry == now + timedelta(seconds=30)
    assert early.handled == 0
    assert second_retry == first_retry + timedelta(seconds=60)


def test_bad_request_fails_after_one_attempt(app, httpserver):
    provider = Provider(httpserver, status=400)
    (message_id,) = queue()

    report = deliver_due(provider.sender(), worker_id="w1")

    row = message(message_id)
    assert report.failed == 1
    assert (row.status, row.attempts) == ("failed", 1)
    assert "400" in row.last_error
    assert attempts_of(message_id) == ["failed"]


def test_max_attempts_then_failed(mail_app, httpserver):  # noqa: F811
    provider = Provider(httpserver, status=500)
    (message_id,) = queue()
    now = utcnow()

    for _ in range(mail_app.config["OUTBOX_MAX_ATTEMPTS"]):
        deliver_due(provider.sender(), worker_id="w1", now=now)
        now += timedelta(hours=1)

    row = message(message_id)
    assert (row.status, row.attempts) == ("failed", 4)
    assert attempts_of(message_id) == ["retry", "retry", "retry", "failed"]


def test_a_dead_workers_lease_runs_out_and_the_message_is_delivered(app, httpserver):
    provider = Provider(httpserver)
    (message_id,) = queue()
    now = utcnow()
    lease = timedelta(seconds=app.config["OUTBOX_LEASE_SECONDS"])

    claim_due("killed-worker", now, batch_size=10)  # claimed, then the worker "dies"
    during_lease = deliver_due(provider.sender(), worker_id="w2", now=now + lease / 2)
    after_lease = deliver_due(provider.sender(), worker_id="w2", now=now + lease)

    assert during_lease.handled == 0
    assert after_lease.sent == 1
    assert provider.delivered == Counter({"Message 0": 1})
    assert message(message_id).delivery_attempts[0].worker == "w2"


def test_unknown_channel_fails_the_message(mail_app, httpserver):  # noqa: F811
    provider = Provider(httpserver)
    (message_id,) = queue(channel="carrier-pigeon")

    deliver_due(provider.sender(), worker_id="w1")

    row = message(message_id)
    assert (row.status, row.last_error) == ("failed", "No transport for channel 'carrier-pigeon'")
    assert provider.delivered == Counter()


def test_stopping_worker_hands_back_the_rest_of_its_batch(mail_app, httpserver):  # noqa: F811
    provider = Provider(httpserver)
    ids = queue(3)
    asked = iter([False, True, True])

    report = deliver_due(provider.sender(), worker_id="w1", should_stop=lambda: next(asked))

    assert (report.sent, report.released) == (1, 2)
    assert [message(i).locked_until for i in ids[1:]] == [None, None]
    assert deliver_due(provider.sender(), worker_id="w2").sent == 2


def test_retry_message_requeues_a_failed_one(mail_app, httpserver):  # noqa: F811
    provider = Provider(httpserver, status=400)
    (message_id,) = queue()
    deliver_due(provider.sender(), worker_id="w1")
    provider.status = 202

    retry_message(message_id)
    deliver_due(provider.sender(), worker_id="w1")

    assert message(message_id).status == "sent"
    assert attempts_of(message_id) == ["failed", "sent"]


def test_retry_message_refuses_a_queued_one(mail_app):  # noqa: F811
    (message_id,) = queue()

    with pytest.raises(MessageNotFailedError):
        retry_message(message_id)


@pytest.mark.parametrize("status", [202, 400, 500])
def test_debug_logs_hold_neither_api_key_nor_address(mail_app, httpserver, caplog, status):  # noqa: F811
    provider = Provider(httpserver, status=status)
    queue()
    sender = provider.sender()
    caplog.set_level(logging.DEBUG)
    # Someone turning the client's own logger up must not leak either.
    caplog.set_level(logging.DEBUG, logger="python_http_client.client")

    report = deliver_due(sender, worker_id="w1")

    assert report.handled == 1
    assert "Outbox message" in caplog.text
    assert API_KEY not in caplog.text
    assert PROSPECT_EMAIL not in caplog.text


def test_errors_stored_hold_neither_api_key_nor_address(mail_app, httpserver):  # noqa: F811
    body = {"errors": [{"message": f"{PROSPECT_EMAIL} rejected for {API_KEY}"}]}
    httpserver.expect_request(SEND_PATH).respond_with_json(body, status=400)
    (message_id,) = queue()
    sender = SendGridSender(API_KEY, host=httpserver.url_for("").rstrip("/"), timeout=5)

    deliver_due(sender, worker_id="w1")

    error = message(message_id).last_error
    assert "400" in error
    assert PROSPECT_EMAIL not in error
    assert API_KEY not in error


def test_cli_run_once_and_status(mail_app, tmp_path):  # noqa: F811
    mail_app.config.update(MAIL_BACKEND="file", MAIL_DIR=str(tmp_path / "mail"))
    queue(2)
    runner = mail_app.test_cli_runner()

    run = runner.invoke(args=["outbox", "run", "--once"])
    status = runner.invoke(args=["outbox", "status"])

    assert run.exit_code == 0, run.output
    assert "sent=2" in run.output
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 2
    assert status.output.splitlines() == ["queued: 0", "sent: 2", "failed: 0"]


def test_status_counts_by_status(mail_app):  # noqa: F811
    queue(3)

    assert status_counts() == {"queued": 3, "sent": 0, "failed": 0}


def test_sigterm_stops_the_worker_cleanly(mail_app, tmp_path):  # noqa: F811
    queue(1)
    uri = mail_app.config["SQLALCHEMY_DATABASE_URI"]
    mail_dir = tmp_path / "mail"
    arguments = f"{uri!r}, MAIL_BACKEND='file', MAIL_DIR={str(mail_dir)!r}"
    factory = f"tests.leadform.mail_fixtures:make_mail_app({arguments})"
    cmd = [sys.executable, "-m", "flask", "--app", factory, "outbox", "run", "--interval", "0.05"]
    worker = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: any(mail_dir.glob("*.eml")), worker)
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()

    assert worker.returncode == 0, err
    assert "sent=1" in out


def wait_for(condition, process, limit: float = 60.0) -> None:
    """Poll until `condition()` holds; fail if the process dies or `limit` seconds pass."""
    deadline = time.monotonic() + limit
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"worker exited early: {process.communicate()}")
        if time.monotonic() > deadline:
            pytest.fail("the worker never delivered the message")
        time.sleep(0.05)


@pytest.mark.postgres
def test_two_workers_on_postgres_send_each_message_exactly_once(pg_mail_app, httpserver):  # noqa: F811
    provider = Provider(httpserver)
    queue(200)
    errors = []

    def work(worker_id: str):
        try:
            with pg_mail_app.app_context():
                sender = provider.sender()
                while deliver_due(sender, worker_id=worker_id, batch_size=5).handled:
                    pass
                db.session.remove()
        except Exception as exc:  # any failure is reported by the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert provider.delivered == Counter({f"Message {n}": 1 for n in range(200)})
    assert status_counts() == {"queued": 0, "sent": 200, "failed": 0}
    assert db.session.scalar(select(db.func.count(DeliveryAttempt.id))) == 200


class BrokenSender:
    """A sender with a bug: it raises something that is not a DeliveryError."""

    def send(self, message):
        raise RuntimeError(f"bug while sending to {message.to}")


def test_an_unexpected_sender_error_is_retried_not_fatal(mail_app, caplog):  # noqa: F811
    (message_id,) = queue()

    report = deliver_due(BrokenSender(), worker_id="w1")

    row = message(message_id)
    assert report.retried == 1
    assert (row.status, row.last_error) == ("queued", "Unexpected RuntimeError")
    assert PROSPECT_EMAIL not in caplog.text


def test_cli_run_with_a_bad_backend_explains_itself(mail_app):  # noqa: F811
    mail_app.config["MAIL_BACKEND"] = "carrier-pigeon"

    result = mail_app.test_cli_runner().invoke(args=["outbox", "run", "--once"])

    assert result.exit_code == 1
    assert "MAIL_BACKEND must be one of" in result.output
