"""`flask email ...`: the sending domain's DNS records, and the suppression list."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from leadform.db import db
from leadform.messages import authentication, suppressions
from leadform.messages.authentication import DnsUnreachableError, ExpectedRecord, Finding

_LABELS = {
    authentication.OK: "ok",
    authentication.MISSING: "MISSING",
    authentication.WRONG: "WRONG",
    authentication.WARNING: "warning",
}


@click.group("email", cls=AppGroup)
def email_cli() -> None:
    """The sending domain's DNS records and the suppression list."""


@email_cli.command("dns")
@click.option("--nameserver", default=None, help="Ask this DNS server (an IP), not the system's.")
@click.option("--port", type=int, default=53, show_default=True, help="The DNS server's port.")
@click.option("--timeout", type=float, default=3.0, show_default=True, help="Seconds in all.")
def dns_command(nameserver: str | None, port: int, timeout: float) -> None:
    """Print the DNS records the sending domain needs, then check them where DNS answers.

    Exits 1 when a record is missing or wrong, 0 when all are in place or DNS is unreachable.
    """
    config = current_app.config
    records = authentication.expected_records(config)
    _print_expected(authentication.sending_domain(config), records, config)
    try:
        resolver = authentication.make_resolver(nameserver, port, timeout)
        findings = authentication.check_records(records, resolver)
    except DnsUnreachableError as exc:
        click.echo(f"\nDNS is not reachable from here: {exc}. Nothing was checked.")
        return
    failures = _print_findings(findings)
    if failures:
        raise SystemExit(1)


def _print_expected(domain: str, records: list[ExpectedRecord], config) -> None:
    """List what to publish, and say which settings are missing to list SendGrid's part."""
    click.echo(f"Sending domain: {domain} (from LEADFORM_MAIL_FROM)\n")
    click.echo("Records to publish:")
    for record in records:
        click.echo(f"  {record.rtype:<5} {record.name}  {record.value}  ({record.purpose})")
    if not config.get("SENDGRID_DNS_SUBDOMAIN") or not config.get("SENDGRID_DNS_TARGET"):
        click.echo(
            "\nSendGrid's domain authentication records are not listed: set "
            "LEADFORM_SENDGRID_DNS_SUBDOMAIN and LEADFORM_SENDGRID_DNS_TARGET from SendGrid's "
            "Settings > Sender Authentication page (see docs/email.md)."
        )


def _print_findings(findings: list[Finding]) -> int:
    """Print one line per record; return how many are missing or wrong."""
    click.echo("\nWhat DNS says:")
    for finding in findings:
        record = finding.record
        line = f"  {_LABELS[finding.status]:<8} {record.rtype:<5} {record.name}"
        click.echo(line + (f": {finding.advice}" if finding.advice else ""))
    failures = sum(f.status in (authentication.MISSING, authentication.WRONG) for f in findings)
    warnings = sum(f.status == authentication.WARNING for f in findings)
    click.echo(f"\n{failures} missing or wrong, {warnings} warning(s).")
    return failures


@email_cli.command("unsuppress")
@click.argument("address")
def unsuppress_command(address: str) -> None:
    """Let email go to ADDRESS again (after the person fixed their mailbox, or asked)."""
    lifted = suppressions.lift(address)
    db.session.commit()
    # The address itself is not echoed: terminal logs are kept longer than one thinks.
    click.echo("Removed from the suppression list." if lifted else "That address was not listed.")


def init_app(app: Flask) -> None:
    """Register `flask email ...`."""
    app.cli.add_command(email_cli)
