"""The booking wing: what a prospect does, from choosing a time to changing or erasing it.

Lives here: availability and slots (`slots`), the free times reused per set of bookings
(`free_times`), the parts of the day-then-time picker (`pages`), the booking form (`forms`),
reservations under one lock (`reservations`), the booking pages (`views`), signed manage
links (`tokens`) and their pages (`manage_views`), changes (`changes`: cancel, move, erase,
retention), the emails a booking sends (`emails`) and their reminders (`reminders`), what
happens when those emails bounce (`bounces`), the booking page's visit counts (`visits`)
and the attribution's known sources (`sources`), and the flood guards (`guard`: single-use
form starts, limits beyond one address, the surge hold) with the page that confirms a held
booking (`hold_views`).

May import: the core (`leadform.config`, `db`, `models`, `extensions`, `sitefacts`, `logs`) and
the wings below it: messages, calendars, newsletter, readiness. Never the desk.
"""

from flask import Flask

from leadform.booking import (
    bounces,
    changes,
    free_times,
    hold_views,
    hosting,
    manage_views,
    reminders,
    slots,
    views,
    visits,
)


def init_app(app: Flask) -> None:
    """Load the availability and register the booking pages, manage pages and commands."""
    app.extensions["availability"] = slots.load_availability(app.config["SITE"])
    visits.init_app(app)
    free_times.init_app(app)
    # Pages and the desk name a booking's consultants (booking/_session.html, desk).
    app.jinja_env.globals["host_names"] = hosting.names
    app.register_blueprint(views.bp)
    app.register_blueprint(manage_views.bp)
    app.register_blueprint(hold_views.bp)
    reminders.init_app(app)
    bounces.init_app(app)
    changes.init_app(app)
