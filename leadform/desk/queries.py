"""Finding bookings for the desk: the tabs, the search and the email outbox listing.

The list page and the CSV export build their query here, so they always agree.
"""

from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from leadform.models import Booking, OutboxMessage

TABS = ("upcoming", "past", "cancelled")
SEARCH_MAX = 200
LIKE_ESCAPE = "\\"
OUTBOX_STATUSES = ("failed", "queued", "sent")


@dataclass(frozen=True)
class BookingFilter:
    """Which bookings to show: a tab and an optional search term."""

    tab: str = "upcoming"
    search: str = ""

    @classmethod
    def from_args(cls, args) -> "BookingFilter":
        """Read `tab` and `q` from a query string; unknown or oversized values fall back."""
        tab = args.get("tab", "upcoming")
        search = " ".join(str(args.get("q", "")).split())[:SEARCH_MAX]
        return cls(tab=tab if tab in TABS else "upcoming", search=search)

    def as_args(self) -> dict:
        """The query-string form of this filter (for links to the export and back)."""
        return {"tab": self.tab, "q": self.search} if self.search else {"tab": self.tab}


def escape_like(term: str) -> str:
    """Escape LIKE's wildcards so a search for "50%" or "a_b" matches those characters."""
    for char in (LIKE_ESCAPE, "%", "_"):
        term = term.replace(char, LIKE_ESCAPE + char)
    return term


def bookings_query(booking_filter: BookingFilter, now: datetime) -> Select:
    """Bookings matching `booking_filter` at `now` (naive UTC), in the order the tab shows."""
    query = select(Booking)
    if booking_filter.tab == "cancelled":
        query = query.where(Booking.status == "cancelled").order_by(Booking.slot_start.desc())
    elif booking_filter.tab == "past":
        query = query.where(Booking.status != "cancelled", Booking.slot_end <= now)
        query = query.order_by(Booking.slot_start.desc())
    else:
        query = query.where(Booking.status != "cancelled", Booking.slot_end > now)
        query = query.order_by(Booking.slot_start)
    if booking_filter.search:
        pattern = f"%{escape_like(booking_filter.search)}%"
        columns = (Booking.name, Booking.email, Booking.company)
        query = query.where(or_(*(col.ilike(pattern, escape=LIKE_ESCAPE) for col in columns)))
    return query.order_by(Booking.id)


def find_bookings(session, booking_filter: BookingFilter, now: datetime, limit=None):
    """Return the matching bookings (at most `limit` of them when given)."""
    query = bookings_query(booking_filter, now)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def outbox_messages(session, status: str | None, limit: int) -> list[OutboxMessage]:
    """The newest outbox messages, optionally of one status, with their delivery attempts."""
    query = (
        select(OutboxMessage)
        .options(selectinload(OutboxMessage.booking), selectinload(OutboxMessage.delivery_attempts))
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    if status in OUTBOX_STATUSES:
        query = query.where(OutboxMessage.status == status)
    return list(session.scalars(query))


def mask_email(address: str | None) -> str:
    """Show an address as j***@example.com: enough to recognise, not to copy."""
    address = parseaddr(str(address or ""))[1]
    if not address:
        return ""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def recipients(payload) -> str:
    """The masked recipient(s) of an email payload, whatever shape the payload has."""
    if not isinstance(payload, dict):
        return ""
    to = payload.get("to")
    addresses = to if isinstance(to, list) else [to]
    return ", ".join(mask_email(a) for a in addresses if isinstance(a, str))
