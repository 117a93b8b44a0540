"""`newsletter send`: each new article mailed once, to confirmed subscribers, at the send rate."""

import threading
from collections import Counter
from datetime import timedelta

import pytest

from leadform.db import db
from leadform.messages.suppressions import ALL, MARKETING, suppress
from leadform.models import utcnow
from leadform.newsletter.feed import FeedError, read_feed
from leadform.newsletter.models import PENDING, MailedArticle
from leadform.newsletter.sending import send_new_articles
from tests.leadform.newsletter.helpers import (
    add_subscriber,
    entry,
    outbox,
    recipients_of,
    write_feed,
)

OLD = [entry("old-one", day=1), entry("old-two", day=2)]
NEW = entry("brand-new", title="Brand new", day=3)


def send(app, entries, tmp_path):
    """Write `entries` as the feed and run the send once; return its report."""
    path = write_feed(tmp_path / "feed.xml", entries)
    return send_new_articles(read_feed(path), now=utcnow(), config=app.config)


@pytest.fixture
def subscribed(app, tmp_path):
    """Two confirmed subscribers, one pending; the back catalogue recorded by a first run."""
    with app.app_context():
        add_subscriber("ann@example.com")
        add_subscriber("bob@example.com")
        add_subscriber("pending@example.com", PENDING, confirmed_at=None)
        send(app, OLD, tmp_path)
    return app


def test_the_first_run_records_the_back_catalogue_and_mails_nothing(app, tmp_path):
    with app.app_context():
        add_subscriber("ann@example.com")
        report = send(app, OLD, tmp_path)

        assert report.first_run
        assert outbox() == []
        stored = db.session.scalars(db.select(MailedArticle.article_key)).all()
        assert set(stored) == {"#first-run", "/blog/old-one/", "/blog/old-two/"}


def test_a_new_article_goes_once_to_each_confirmed_subscriber(subscribed, tmp_path):
    with subscribed.app_context():
        report = send(subscribed, [*OLD, NEW], tmp_path)

        assert report.mailed == ["Brand new"]
        assert sorted(recipients_of("newsletter_article")) == ["ann@example.com", "bob@example.com"]
        message = outbox("newsletter_article")[0].payload
        assert message["subject"] == "Brand new"
        assert "http://127.0.0.1:8000/blog/brand-new/" in message["text"]
        assert message["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = message["headers"]["List-Unsubscribe"]
        assert link.startswith("<http://127.0.0.1:8000/newsletter/unsubscribe/")
        assert link.strip("<>") in message["text"] and link.strip("<>") in message["html"]


def test_a_second_run_sends_nothing(subscribed, tmp_path):
    with subscribed.app_context():
        send(subscribed, [*OLD, NEW], tmp_path)
        report = send(subscribed, [*OLD, NEW], tmp_path)

        assert report.mailed == [] and report.emails == 0
        assert len(outbox("newsletter_article")) == 2


def test_suppressed_addresses_are_skipped(subscribed, tmp_path):
    with subscribed.app_context():
        suppress("ann@example.com", MARKETING, "spam_report")
        add_subscriber("bounced@example.com")
        suppress("bounced@example.com", ALL, "bounce")
        db.session.commit()

        report = send(subscribed, [*OLD, NEW], tmp_path)

        assert recipients_of("newsletter_article") == ["bob@example.com"]
        assert report.suppressed == 2


def test_several_new_articles_make_one_digest_each_when_asked(make_app, tmp_path):
    app = make_app(NEWSLETTER_DIGEST=True)
    with app.app_context():
        add_subscriber("ann@example.com")
        send(app, OLD, tmp_path)
        send(app, [*OLD, NEW, entry("newer", title="Newer", day=4)], tmp_path)

        (digest,) = outbox("newsletter_digest")
        assert digest.payload["subject"] == "2 new articles from Tessellate Advisory"
        text = digest.payload["text"]
        assert text.index("Brand new") < text.index("Newer")
        assert outbox("newsletter_article") == []


def test_emails_are_spread_to_respect_the_send_rate(make_app, tmp_path):
    app = make_app(NEWSLETTER_PER_MINUTE=2)
    with app.app_context():
        for n in range(5):
            add_subscriber(f"r{n}@example.com")
        send(app, OLD, tmp_path)
        send(app, [*OLD, NEW], tmp_path)

        due = [row.next_attempt_at for row in outbox("newsletter_article")]
        minutes = Counter((moment - min(due)) // timedelta(minutes=1) for moment in due)
        assert minutes == {0: 2, 1: 2, 2: 1}

        # A later run queues after the emails still waiting, not beside them.
        send(app, [*OLD, NEW, entry("later", day=5)], tmp_path)
        later = [row.next_attempt_at for row in outbox("newsletter_article")][5:]
        assert min(later) > max(due)


def _race(app, path, runs: int = 2) -> list:
    """Run `send` from `runs` threads at once, each with its own app context."""
    barrier = threading.Barrier(runs)
    outcomes = []

    def one_run():
        with app.app_context():
            articles = read_feed(path)
            barrier.wait()
            try:
                outcomes.append(send_new_articles(articles, now=utcnow(), config=app.config))
            except Exception as exc:  # noqa: BLE001 - the test reports any failure
                outcomes.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=one_run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def _two_runs_at_once_mail_each_article_once(app, tmp_path):
    with app.app_context():
        for n in range(3):
            add_subscriber(f"r{n}@example.com")
        send(app, OLD, tmp_path)
        db.session.remove()
    path = write_feed(tmp_path / "feed.xml", [*OLD, NEW, entry("second-new", day=4)])

    outcomes = _race(app, path)

    assert not [item for item in outcomes if isinstance(item, Exception)], outcomes
    assert sorted(len(report.mailed) for report in outcomes) == [0, 2]
    with app.app_context():
        rows = outbox("newsletter_article")
        assert len(rows) == 6
        pairs = Counter((row.payload["to"], row.payload["subject"]) for row in rows)
        assert set(pairs.values()) == {1}


def test_two_runs_at_once_mail_each_article_once_on_sqlite(app, tmp_path):
    _two_runs_at_once_mail_each_article_once(app, tmp_path)


@pytest.mark.postgres
def test_two_runs_at_once_mail_each_article_once_on_postgresql(pg_app, tmp_path):
    _two_runs_at_once_mail_each_article_once(pg_app(), tmp_path)


@pytest.mark.postgres
def test_two_first_runs_at_once_record_the_back_catalogue_once(pg_app, tmp_path):
    app = pg_app()
    outcomes = _race(app, write_feed(tmp_path / "feed.xml", OLD))
    assert not [item for item in outcomes if isinstance(item, Exception)], outcomes
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(MailedArticle)) == 3


def test_the_command_reads_the_feed_in_the_site_folder(make_app, tmp_path):
    app = make_app(SITE_DIR=tmp_path / "output")
    write_feed(tmp_path / "output" / "feeds" / "all.atom.xml", OLD)
    with app.app_context():
        add_subscriber("ann@example.com")
    runner = app.test_cli_runner()

    first = runner.invoke(args=["newsletter", "send"])
    write_feed(tmp_path / "output" / "feeds" / "all.atom.xml", [*OLD, NEW])
    second = runner.invoke(args=["newsletter", "send"])

    assert "First run: 2 published articles recorded, none mailed." in first.output
    assert "Mailed: Brand new" in second.output
    assert "articles=1 emails=1 suppressed=0" in second.output


def test_the_command_takes_feed_or_says_what_is_missing(app, runner, tmp_path):
    missing = runner.invoke(args=["newsletter", "send"])
    assert missing.exit_code != 0
    assert "pass --feed PATH" in missing.output

    absent = runner.invoke(args=["newsletter", "send", "--feed", str(tmp_path / "nope.xml")])
    assert absent.exit_code != 0
    assert "cannot read the feed" in absent.output

    path = write_feed(tmp_path / "feed.xml", OLD)
    given = runner.invoke(args=["newsletter", "send", "--feed", str(path)])
    assert given.exit_code == 0, given.output


HOSTILE_TITLE = 'Pilots\r\nBcc: victim@example.com <script>alert("x")</script> & more'


def test_hostile_feed_text_stays_one_subject_line_and_escaped_html(subscribed, tmp_path):
    with subscribed.app_context():
        summary = "<img src=x onerror=alert(1)>Hi"
        hostile = entry("hostile", title=HOSTILE_TITLE, day=3, summary=summary)
        send(subscribed, [*OLD, hostile], tmp_path)

        message = outbox("newsletter_article")[0].payload
        assert "\r" not in message["subject"] and "\n" not in message["subject"]
        assert "<script>" not in message["html"]
        assert "&lt;script&gt;" in message["html"]
        assert "onerror" not in message["html"]


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "/blog/relative/", "data:text/html,hi", "mailto:a@b.c"]
)
def test_an_entry_without_a_web_link_is_refused(tmp_path, link):
    path = write_feed(tmp_path / "feed.xml", [entry("x") | {"url": link}])
    with pytest.raises(FeedError, match="no http"):
        read_feed(path)


def test_a_broken_feed_is_refused_with_its_name(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_text("<feed><entry>")
    with pytest.raises(FeedError, match="feed.xml: not a well-formed feed"):
        read_feed(path)
