"""The readiness wing's tables: completed checks, and checks started per day and source."""

from datetime import datetime

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadform.db import db
from leadform.models import Attribution, DailySourceCount, utcnow


class ReadinessCheck(Attribution, db.Model):
    """One reader's completed readiness check, with where the reader came from (Attribution).

    Scores are stored as computed when the check was taken, so a later edit of the
    question file does not change what the reader, the team or a booking saw.
    """

    __tablename__ = "readiness_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unguessable: the result page's address and the key a booking carries.
    token: Mapped[str] = mapped_column(String(32), unique=True)
    answers: Mapped[dict] = mapped_column(JSON)  # question key -> answer on the scale
    scores: Mapped[dict] = mapped_column(JSON)  # dimension key -> 0..100
    overall: Mapped[int]
    band: Mapped[str] = mapped_column(String(64))

    # Set when the reader asks for the report by email (with their consent).
    email: Mapped[str | None] = mapped_column(String(254))
    consent_at: Mapped[datetime | None]
    privacy_version: Mapped[str | None] = mapped_column(String(32))
    report_emailed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReadinessCheckStart(DailySourceCount, db.Model):
    """Daily count of readiness checks started per source, with no cookie and no IP.

    A start is one opening of the check's questions (readiness/starts.py).
    """

    __tablename__ = "readiness_check_starts"

    starts: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        UniqueConstraint(
            "day",
            "source_article",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            name="uq_readiness_check_starts_key",
        ),
    )
