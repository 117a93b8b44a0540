"""The calendars wing: the consultants who host the assessment and when they are busy.

Lives here: the hosts and the assignment rule of site.toml (`hosts`), what counts as busy in
an iCalendar file by RFC 5545 (`busy`), reading CalDAV accounts and ICS feeds with
deadlines (`sources`), the sync state and busy blocks tables (`models`), the sync pass and
`flask calendars sync` (`sync`), what the booking wing calls: stored and live busy times
under the stale policy, and host assignment (`services`), writing bookings into the hosts'
CalDAV calendars through the outbox (`writeback`), and how each calendar is doing, for the
desk and /readyz (`status`).

May import: the core (`leadform.config`, `db`, `models`, `health`, `cli`) and the messages
wing. Never booking or desk: booking asks this wing, not the other way round.
"""

from flask import Flask

from leadform import cli, health
from leadform.calendars import hosts, services, status, sync, writeback


def init_app(app: Flask) -> None:
    """Load the hosts from site.toml, keep the calendar settings, register the commands.

    With calendars configured, /readyz gains its "calendars" check and `flask serve` (so
    `make run`) syncs them every CALENDAR_SYNC_SECONDS; without, nothing new runs.
    """
    hosts_config = hosts.load_hosts(app.config["SITE"], app.config.get("CALENDAR_SECRETS", {}))
    app.extensions["calendars"] = services.settings_from(app, hosts_config)
    app.cli.add_command(sync.calendars_cli)
    writeback.init_app(app)
    if hosts_config.sources():
        health.add_check(app, "calendars", status.check_ready)
        every = f"{float(app.config['CALENDAR_SYNC_SECONDS']):g}"
        cli.add_companion(app, "calendars", "sync", "--every", every)
