"""`flask --app leadform newsletter ...`: mail new articles, expire signups, erase an address."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from leadform.models import utcnow
from leadform.newsletter import feed, sending, services


# AppGroup runs each subcommand inside the app context (the database needs one).
@click.group("newsletter", cls=AppGroup)
def newsletter_cli():
    """Mail new articles to confirmed subscribers, and look after the list."""


def _feed_path(option: Path | None) -> Path:
    """The feed to read: --feed, else feeds/all.atom.xml in LEADFORM_SITE_DIR."""
    path = option or feed.default_feed(current_app.config.get("SITE_DIR"))
    if path is None:
        raise click.UsageError(
            "No feed: pass --feed PATH (e.g. output/feeds/all.atom.xml) or set LEADFORM_SITE_DIR."
        )
    return path


@newsletter_cli.command("send")
@click.option(
    "--feed",
    "feed_option",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The built site's Atom feed (default: LEADFORM_SITE_DIR/feeds/all.atom.xml).",
)
def send_command(feed_option: Path | None):
    """Queue one email per confirmed subscriber for each article never mailed before.

    The first run records the articles already published and mails none of them.
    """
    try:
        articles = feed.read_feed(_feed_path(feed_option))
        report = sending.send_new_articles(articles, now=utcnow(), config=current_app.config)
    except (feed.FeedError, sending.SendConflict) as exc:
        raise click.ClickException(str(exc)) from None
    if report.first_run:
        click.echo(f"First run: {len(report.recorded)} published articles recorded, none mailed.")
        return
    for title in report.mailed:
        click.echo(f"Mailed: {title}")
    click.echo(
        f"articles={len(report.mailed)} emails={report.emails} suppressed={report.suppressed}"
    )


@newsletter_cli.command("purge")
def purge_command():
    """Delete signups never confirmed within NEWSLETTER_CONFIRM_HOURS (and their emails)."""
    count = services.purge_expired(utcnow(), current_app.config["NEWSLETTER_CONFIRM_HOURS"])
    click.echo(f"Deleted {count} unconfirmed signups.")


@newsletter_cli.command("erase")
@click.argument("address")
def erase_command(address: str):
    """Remove ADDRESS from the list everywhere (a data-deletion request)."""
    try:
        services.erase_by_email(address, utcnow())
    except services.SubscriberNotFound as exc:
        raise click.ClickException(exc.message) from None
    click.echo("Erased.")
