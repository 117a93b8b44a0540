"""Tables of the booking service.

All datetimes are stored as naive UTC (SQLite has no time zones); `utcnow()` gives one.
"""

from datetime import UTC, date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leadform.db import db


def utcnow() -> datetime:
    """Return the current time as a naive UTC datetime, the form every column stores."""
    return datetime.now(UTC).replace(tzinfo=None)


class Attribution:
    """Where a visitor came from: the article, the UTM parameters, an outside referring page.

    Mixed into every table that records a visitor's step (bookings, readiness checks), so the
    adoption report reads the same columns everywhere (lengths: leadform.cleaning).
    """

    source_article: Mapped[str | None] = mapped_column(String(200))
    utm_source: Mapped[str | None] = mapped_column(String(200))
    utm_medium: Mapped[str | None] = mapped_column(String(200))
    utm_campaign: Mapped[str | None] = mapped_column(String(200))
    utm_term: Mapped[str | None] = mapped_column(String(200))
    utm_content: Mapped[str | None] = mapped_column(String(200))
    referrer: Mapped[str | None] = mapped_column(String(2000))


class DailySourceCount:
    """A day and a source (article, campaign tags), the key of a daily counter table.

    Mixed into the counters of leadform.counters (booking-page visits, readiness checks
    started). Empty strings (not NULL) stand for "no value" so the unique key also holds
    for them.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date]
    source_article: Mapped[str] = mapped_column(String(200), default="")
    utm_source: Mapped[str] = mapped_column(String(200), default="")
    utm_medium: Mapped[str] = mapped_column(String(200), default="")
    utm_campaign: Mapped[str] = mapped_column(String(200), default="")


class Booking(Attribution, db.Model):
    """One prospect's reservation of one assessment slot."""

    __tablename__ = "bookings"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Public, unguessable identifier used in URLs and the iCalendar UID.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="confirmed")  # or "cancelled"
    slot_start: Mapped[datetime]  # naive UTC
    slot_end: Mapped[datetime]  # naive UTC
    timezone: Mapped[str] = mapped_column(String(64))  # the prospect's IANA zone

    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    company: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(200))
    company_size: Mapped[str] = mapped_column(String(32))
    goals: Mapped[str] = mapped_column(Text)
    consent_at: Mapped[datetime]
    privacy_version: Mapped[str] = mapped_column(String(32))

    # How the session is held: a key of site.toml's [session.formats] ("video", "in_person").
    session_format: Mapped[str | None] = mapped_column(String(32))
    # The readiness check the prospect booked from (its scores travel with the booking).
    readiness_check_id: Mapped[int | None] = mapped_column(ForeignKey("readiness_checks.id"))

    # iCalendar SEQUENCE: bumped each time the event is moved or cancelled.
    ics_sequence: Mapped[int] = mapped_column(default=0)
    # After the booking: how often the prospect moved it, when it was cancelled, whether
    # they came ("attended" | "no_show", set by an operator), which reminders were queued,
    # and when personal data was erased (the slot history is kept).
    move_count: Mapped[int] = mapped_column(default=0, server_default="0")
    cancelled_at: Mapped[datetime | None]
    attendance: Mapped[str | None] = mapped_column(String(16))
    reminder_24h_queued_at: Mapped[datetime | None]
    reminder_1h_queued_at: Mapped[datetime | None]
    anonymised_at: Mapped[datetime | None]
    # Set when an email to the prospect bounced or was dropped (leadform.booking.bounces):
    # the desk flags the booking, reminders stop, the team is told once.
    email_undeliverable_at: Mapped[datetime | None]
    # A booking made during a surge is "held" until this time (naive UTC), waiting for the
    # prospect to confirm it from their email; then "confirmed", or "expired" and freed.
    hold_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    messages: Mapped[list["OutboxMessage"]] = relationship(back_populates="booking")
    events: Mapped[list["BookingEvent"]] = relationship(
        back_populates="booking", order_by="BookingEvent.id"
    )
    notes: Mapped[list["BookingNote"]] = relationship(
        back_populates="booking", order_by="BookingNote.id"
    )
    # The consultants who take the session (site.toml's [hosts]); none without hosts.
    hosts: Mapped[list["BookingHost"]] = relationship(
        back_populates="booking",
        order_by="BookingHost.id",
        # Lists (the desk, the CSV) show each booking's hosts: one query for all, not one each.
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    @property
    def host_ids(self) -> tuple[str, ...]:
        """Return the ids of the hosts assigned to the session, in assignment order."""
        return tuple(link.host_id for link in self.hosts)

    __table_args__ = (
        # The last line of defence against double booking: at most one active booking per
        # start time, enforced by the database itself on SQLite and PostgreSQL alike.
        Index(
            "uq_bookings_active_slot",
            "slot_start",
            unique=True,
            sqlite_where=text("status IN ('confirmed', 'held')"),
            postgresql_where=text("status IN ('confirmed', 'held')"),
        ),
    )


class OutboxMessage(db.Model):
    """A message waiting to leave the system (an email now; a webhook call later).

    It is written in the same transaction as the booking that caused it, and a worker
    delivers it; so a booking never exists without its emails, nor an email without it.
    """

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"))
    channel: Mapped[str] = mapped_column(String(16), default="email")  # "email" | "webhook"
    kind: Mapped[str] = mapped_column(String(64))  # e.g. "prospect_confirmation"
    # The whole message as plain data (see leadform.mail.EmailMessage.to_dict).
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|sent|failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A worker holds a message until this time; a crashed worker's lease simply runs out.
    locked_until: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # What happened after the provider took it, from its events (leadform.messages.delivery):
    # accepted|processed|deferred|delivered|bounced|dropped|spam_report, and when.
    delivery_state: Mapped[str | None] = mapped_column(String(16))
    delivery_state_at: Mapped[datetime | None]

    booking: Mapped[Booking | None] = relationship(back_populates="messages")
    delivery_attempts: Mapped[list["DeliveryAttempt"]] = relationship(
        back_populates="message", order_by="DeliveryAttempt.id"
    )

    __table_args__ = (Index("ix_outbox_messages_due", "status", "next_attempt_at"),)


class DeliveryAttempt(db.Model):
    """One try at delivering an outbox message, with its outcome."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_messages.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(16))  # "sent" | "retry" | "failed"
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(100))

    message: Mapped[OutboxMessage] = relationship(back_populates="delivery_attempts")


class BookingHost(db.Model):
    """One consultant assigned to one booking (leadform.calendars.services.assign_hosts).

    Kept after a cancellation, like the slot history: it says who would have attended. A move
    replaces the rows with the hosts of the new time.
    """

    __tablename__ = "booking_hosts"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    host_id: Mapped[str] = mapped_column(String(64))

    booking: Mapped[Booking] = relationship(back_populates="hosts")

    __table_args__ = (
        UniqueConstraint("booking_id", "host_id"),
        # Round robin counts each host's sessions: host first.
        Index("ix_booking_hosts_host", "host_id", "booking_id"),
    )


class BookingEvent(db.Model):
    """One change in a booking's life (created, moved, cancelled, anonymised, attendance).

    The slot history survives anonymisation: events hold times and kinds, never personal data.
    """

    __tablename__ = "booking_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    slot_start: Mapped[datetime | None]  # naive UTC: the slot after this event
    previous_slot_start: Mapped[datetime | None]
    actor: Mapped[str] = mapped_column(String(64), default="prospect")  # or "operator:<name>"
    # Where a "created" event came from: "booking form", "desk", "import"; None otherwise.
    source: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    booking: Mapped[Booking] = relationship(back_populates="events")


class Operator(db.Model):
    """A named member of the firm who may sign in to /admin."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # The TOTP second factor: the base32 secret (written when enrolment starts), the time it
    # was confirmed with a first code (only then is it asked for), and the last time step a
    # code was accepted for, so one code never works twice.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_counter: Mapped[int | None]


class DeskSession(db.Model):
    """One signed-in browser of an operator; the cookie holds only its random token.

    Deleting the rows ends the sessions at once, in every worker: sign-out, a new password,
    disabling and a second-factor reset do that for all of an operator's sessions.
    """

    __tablename__ = "desk_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the token
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    # "second_factor": the password was right, the TOTP code is still due; "signed_in".
    stage: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    operator: Mapped[Operator] = relationship()


class LoginThrottle(db.Model):
    """Failed desk sign-ins per username (known or not), whatever address they came from."""

    __tablename__ = "desk_login_throttles"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)  # normalised
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]


class RecoveryCode(db.Model):
    """A one-time code that stands in for the TOTP code when an operator lost their device."""

    __tablename__ = "operator_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the normalised code
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class BookingNote(db.Model):
    """A private note an operator wrote on a booking."""

    __tablename__ = "booking_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    booking: Mapped[Booking] = relationship(back_populates="notes")
    operator: Mapped[Operator | None] = relationship()


class BookingPageVisit(DailySourceCount, db.Model):
    """Daily count of visits to the booking page per source, with no cookie and no IP."""

    __tablename__ = "booking_page_visits"

    visits: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        UniqueConstraint(
            "day",
            "source_article",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            name="uq_booking_page_visits_key",
        ),
    )


class SpentFormStart(db.Model):
    """A booking form's start value that has been used: each may start one booking only."""

    __tablename__ = "spent_form_starts"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    spent_at: Mapped[datetime] = mapped_column(index=True)
