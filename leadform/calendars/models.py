"""Tables of the calendars wing: each calendar source's sync state and the busy blocks it gave.

Datetimes are naive UTC, like every other table (see leadform.models.utcnow).
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leadform.db import db


class CalendarSourceState(db.Model):
    """What the last syncs of one host's calendar source achieved.

    One row per (host, source key) of site.toml. `last_good_at` is when the busy blocks were
    last refreshed successfully; `window_start`/`window_end` the span they cover. A failure
    keeps the blocks and records `last_error` (which says what to fix) and `failing_since`.
    """

    __tablename__ = "calendar_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[str] = mapped_column(String(64))
    source_key: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # "caldav" or "ics"
    label: Mapped[str] = mapped_column(String(200))
    last_attempt_at: Mapped[datetime | None]
    last_good_at: Mapped[datetime | None]
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    failing_since: Mapped[datetime | None]  # first failure after the last good sync
    # Conditional requests of ICS feeds: an unchanged feed answers 304 and the kept copy is
    # read again for the moved window.
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    feed_body: Mapped[bytes | None] = mapped_column(LargeBinary)

    blocks: Mapped[list["BusyBlock"]] = relationship(
        back_populates="source", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (UniqueConstraint("host_id", "source_key"),)


class BusyBlock(db.Model):
    """One busy interval of one host, from one calendar source, as of its last good sync."""

    __tablename__ = "calendar_busy_blocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("calendar_sources.id", ondelete="CASCADE"))
    host_id: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]

    source: Mapped[CalendarSourceState] = relationship(back_populates="blocks")

    __table_args__ = (
        # busy_for reads one host's blocks overlapping a window: host, then start.
        Index("ix_calendar_busy_blocks_host_start", "host_id", "starts_at"),
        Index("ix_calendar_busy_blocks_source_id", "source_id"),
    )
