"""The adoption report: from booking-page visits to booked and attended assessments.

`adoption_report(start, end, now, zone_name=...)` counts, for a period of whole days in the
host's time zone, visits to the booking page, bookings made, how many of those were
cancelled and how many sessions took place, per source article and per campaign; and the
steps before the booking: readiness checks started and completed, their reports emailed,
newsletter signups confirmed, and the bookings made from a check's result.
`bookings_chart_svg(weeks)` draws the bookings per ISO week as an inline SVG built from
escaped text. Plain functions over the session; the admin view only formats the result.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from markupsafe import Markup
from sqlalchemy import case, func, select

from leadform import sources
from leadform.db import db
from leadform.desk.export import spreadsheet_csv
from leadform.models import Booking, BookingPageVisit
from leadform.newsletter.models import CONFIRMED, Subscriber
from leadform.readiness.models import ReadinessCheck, ReadinessCheckStart

DIRECT_LABEL = "(direct / unknown)"
NO_VALUE_LABEL = "(none)"
NO_RATE = "–"
DEFAULT_PERIOD_DAYS = 90
# Dates far from today are typos (year 0026); at the extremes date arithmetic overflows.
EARLIEST_DATE, LATEST_DATE = date(2000, 1, 1), date(2999, 12, 31)
# Three years of weeks still make a readable chart; a typo like year 0026 would not.
MAX_PERIOD_DAYS = 3 * 366
CSV_HEADER = (
    "source_article",
    "visits",
    "bookings",
    "cancellations",
    "attended",
    "undelivered",
    "booking_rate_percent",
    "attendance_rate_percent",
    # Appended (issue 15), so consumers reading the columns above by position keep working.
    "checks_completed",
    "reports_emailed",
    "newsletter_signups",
    "bookings_via_check",
    "check_booking_rate_percent",
    # Appended again (checks started), for the same reason.
    "checks_started",
    "check_completion_rate_percent",
)
_SOURCE_COLUMNS = ("source_article", "utm_source", "utm_medium", "utm_campaign")


class ReportPeriodError(ValueError):
    """The period's end is before its start, or the period is too long to draw."""


@dataclass
class ReportRow:
    """The funnel's numbers for one source (an article, a campaign, or everything)."""

    key: tuple[str, ...]
    visits: int = 0
    bookings: int = 0
    cancellations: int = 0
    attended: int = 0
    # Bookings whose prospect's email bounced or was dropped: the confirmation never arrived.
    undelivered: int = 0
    # Readiness checks started (the questions opened) in the period.
    check_starts: int = 0
    # Readiness checks completed in the period, and how many of those had their report emailed.
    checks: int = 0
    reports_emailed: int = 0
    # Newsletter subscriptions confirmed in the period (still subscribed today).
    signups: int = 0
    # Bookings made in the period from a readiness check's result, by the check's source.
    check_bookings: int = 0

    @property
    def booking_rate(self) -> float | None:
        """Bookings per visit, or None when there were no visits."""
        return self.bookings / self.visits if self.visits else None

    @property
    def attendance_rate(self) -> float | None:
        """Attended sessions per booking, or None when there were no bookings."""
        return self.attended / self.bookings if self.bookings else None

    @property
    def check_completion_rate(self) -> float | None:
        """Completed checks per check started, or None when no check was started."""
        return self.checks / self.check_starts if self.check_starts else None

    @property
    def check_booking_rate(self) -> float | None:
        """Bookings through a check per completed check, or None when there were no checks."""
        return self.check_bookings / self.checks if self.checks else None

    def add(self, other: ReportRow) -> None:
        """Add `other`'s counts to this row's."""
        self.visits += other.visits
        self.bookings += other.bookings
        self.cancellations += other.cancellations
        self.attended += other.attended
        self.undelivered += other.undelivered
        self.check_starts += other.check_starts
        self.checks += other.checks
        self.reports_emailed += other.reports_emailed
        self.signups += other.signups
        self.check_bookings += other.check_bookings


@dataclass(frozen=True)
class WeekCount:
    """Bookings made in one ISO week (Monday to Sunday in the host's zone)."""

    monday: date
    bookings: int

    @property
    def label(self) -> str:
        """The ISO week, e.g. "2026-W09"."""
        year, week, _ = self.monday.isocalendar()
        return f"{year}-W{week:02d}"


@dataclass
class AdoptionReport:
    """The adoption report of one period: per article, per campaign, totals, weeks."""

    start: date
    end: date
    zone_name: str
    by_article: list[ReportRow] = field(default_factory=list)
    by_campaign: list[ReportRow] = field(default_factory=list)
    totals: ReportRow = field(default_factory=lambda: ReportRow(key=()))
    weeks: list[WeekCount] = field(default_factory=list)


def read_titles(content_dir: Path) -> dict[str, str]:
    """Map slugs to titles from the content's Markdown headers (see sources.read_titles)."""
    return sources.read_titles(content_dir)


def article_label(slug: str) -> str:
    """How an article key is shown: its slug, or "(direct / unknown)" for none."""
    return slug or DIRECT_LABEL


def value_label(value: str) -> str:
    """How an empty campaign tag is shown."""
    return value or NO_VALUE_LABEL


def percent(rate: float | None) -> str:
    """Format a rate as e.g. "33.3%", or "–" when it is undefined (division by zero)."""
    return NO_RATE if rate is None else f"{rate * 100:.1f}%"


def default_period(now: datetime, zone_name: str) -> tuple[date, date]:
    """Return the last 90 days, today included, in the host's zone."""
    today = now.astimezone(ZoneInfo(zone_name)).date()
    return today - timedelta(days=DEFAULT_PERIOD_DAYS - 1), today


def check_date(day: date) -> None:
    """Raise ReportPeriodError for a date outside the years a report can cover."""
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ReportPeriodError(
            f"Choose a date between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}."
        )


def check_period(start: date, end: date) -> None:
    """Raise ReportPeriodError unless `start`..`end` is a period the report can show."""
    check_date(start)
    check_date(end)
    if end < start:
        raise ReportPeriodError("The end date must not be before the start date.")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise ReportPeriodError(f"Choose a period of at most {MAX_PERIOD_DAYS} days.")


def period_bounds(start: date, end: date, zone_name: str) -> tuple[datetime, datetime]:
    """Return [from, to) in naive UTC covering the host-zone days `start`..`end`."""
    zone = ZoneInfo(zone_name)
    lower = datetime.combine(start, time.min, tzinfo=zone).astimezone(UTC)
    upper = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    return lower.replace(tzinfo=None), upper.replace(tzinfo=None)


def _booking_counts(lower: datetime, upper: datetime) -> list[ReportRow]:
    """Bookings created in [lower, upper) grouped by article and campaign tags."""
    keys = [func.coalesce(getattr(Booking, name), "") for name in _SOURCE_COLUMNS]
    cancelled = func.sum(case((Booking.status == "cancelled", 1), else_=0))
    attended = func.sum(case((Booking.attendance == "attended", 1), else_=0))
    undelivered = func.sum(case((Booking.email_undeliverable_at.is_not(None), 1), else_=0))
    statement = (
        select(*keys, func.count(Booking.id), cancelled, attended, undelivered)
        .where(Booking.created_at >= lower, Booking.created_at < upper)
        .group_by(*keys)
    )
    return [
        ReportRow(
            key=tuple(row[:4]),
            bookings=row[4],
            cancellations=row[5],
            attended=row[6],
            undelivered=row[7],
        )
        for row in db.session.execute(statement)
    ]


def _check_counts(lower: datetime, upper: datetime) -> list[ReportRow]:
    """Readiness checks completed in [lower, upper), and their reports emailed, by source."""
    keys = [func.coalesce(getattr(ReadinessCheck, name), "") for name in _SOURCE_COLUMNS]
    emailed = func.sum(case((ReadinessCheck.report_emailed_at.is_not(None), 1), else_=0))
    statement = (
        select(*keys, func.count(ReadinessCheck.id), emailed)
        .where(ReadinessCheck.created_at >= lower, ReadinessCheck.created_at < upper)
        .group_by(*keys)
    )
    return [
        ReportRow(key=tuple(row[:4]), checks=row[4], reports_emailed=row[5])
        for row in db.session.execute(statement)
    ]


def _check_booking_counts(lower: datetime, upper: datetime) -> list[ReportRow]:
    """Bookings made in [lower, upper) from a check's result, by the check's source.

    The check's source, not the booking's: the result page's booking link carries the
    article but not the campaign tags, and the rate divides by checks of the same source.
    """
    keys = [func.coalesce(getattr(ReadinessCheck, name), "") for name in _SOURCE_COLUMNS]
    statement = (
        select(*keys, func.count(Booking.id))
        .join(ReadinessCheck, Booking.readiness_check_id == ReadinessCheck.id)
        .where(Booking.created_at >= lower, Booking.created_at < upper)
        .group_by(*keys)
    )
    return [
        ReportRow(key=tuple(row[:4]), check_bookings=row[4])
        for row in db.session.execute(statement)
    ]


def _signup_counts(lower: datetime, upper: datetime) -> list[ReportRow]:
    """Newsletter subscriptions confirmed in [lower, upper), by article (no campaign tags)."""
    article = func.coalesce(Subscriber.source_article, "")
    statement = (
        select(article, func.count(Subscriber.id))
        .where(
            Subscriber.status == CONFIRMED,
            Subscriber.confirmed_at >= lower,
            Subscriber.confirmed_at < upper,
        )
        .group_by(article)
    )
    # A subscriber stores no campaign tags: its signups fall in the untagged campaign row.
    return [
        ReportRow(key=(row[0], "", "", ""), signups=row[1]) for row in db.session.execute(statement)
    ]


def _visit_counts(start: date, end: date) -> list[ReportRow]:
    """Booking-page visits on the days `start`..`end` grouped by article and campaign tags."""
    keys = [getattr(BookingPageVisit, name) for name in _SOURCE_COLUMNS]
    statement = (
        select(*keys, func.sum(BookingPageVisit.visits))
        .where(BookingPageVisit.day >= start, BookingPageVisit.day <= end)
        .group_by(*keys)
    )
    return [ReportRow(key=tuple(row[:4]), visits=row[4]) for row in db.session.execute(statement)]


def _start_counts(start: date, end: date) -> list[ReportRow]:
    """Readiness checks started on the days `start`..`end` grouped by article and campaign."""
    keys = [getattr(ReadinessCheckStart, name) for name in _SOURCE_COLUMNS]
    statement = (
        select(*keys, func.sum(ReadinessCheckStart.starts))
        .where(ReadinessCheckStart.day >= start, ReadinessCheckStart.day <= end)
        .group_by(*keys)
    )
    return [
        ReportRow(key=tuple(row[:4]), check_starts=row[4]) for row in db.session.execute(statement)
    ]


def _known_only(rows: list[ReportRow], known: Collection[str]) -> list[ReportRow]:
    """Give every row whose article is not a known source the article "other".

    Bookings store what the form sent, and counters may predate the limit; either way a
    made-up `from` must not become a row of its own.
    """
    for row in rows:
        row.key = (sources.source_key(row.key[0], known), *row.key[1:])
    return rows


def _roll_up(rows: Iterable[ReportRow], key_of) -> list[ReportRow]:
    """Merge rows whose `key_of(row.key)` is equal; most bookings, visits, then checks first."""
    merged: dict[tuple, ReportRow] = {}
    for row in rows:
        key = key_of(row.key)
        merged.setdefault(key, ReportRow(key=key)).add(row)
    return sorted(
        merged.values(), key=lambda r: (-r.bookings, -r.visits, -r.checks, -r.check_starts, r.key)
    )


def _booking_days(lower: datetime, upper: datetime, zone_name: str) -> list[date]:
    """The host-zone day each booking of [lower, upper) was made on."""
    zone = ZoneInfo(zone_name)
    created = db.session.scalars(
        select(Booking.created_at).where(Booking.created_at >= lower, Booking.created_at < upper)
    )
    return [moment.replace(tzinfo=UTC).astimezone(zone).date() for moment in created]


def weekly_counts(days: Iterable[date], start: date, last_day: date) -> list[WeekCount]:
    """Count `days` per ISO week, one entry per week from `start`'s to `last_day`'s."""
    first_monday = start - timedelta(days=start.weekday())
    counts: dict[date, int] = {}
    monday = first_monday
    while monday <= last_day:
        counts[monday] = 0
        monday += timedelta(days=7)
    for day in days:
        week = day - timedelta(days=day.weekday())
        if week in counts:
            counts[week] += 1
    return [WeekCount(monday=week, bookings=count) for week, count in counts.items()]


def adoption_report(
    start: date,
    end: date,
    now: datetime,
    *,
    zone_name: str,
    known_sources: Collection[str] | None = None,
) -> AdoptionReport:
    """Build the adoption report for the host-zone days `start`..`end` (both included).

    `now` (aware) stops the weekly series at the current week; raise ReportPeriodError.
    Articles other than `known_sources` (the app's: the site's slugs) are counted as "other".
    """
    check_period(start, end)
    lower, upper = period_bounds(start, end, zone_name)
    known = sources.known_sources() if known_sources is None else known_sources
    counted = (
        _booking_counts(lower, upper)
        + _visit_counts(start, end)
        + _start_counts(start, end)
        + _check_counts(lower, upper)
        + _check_booking_counts(lower, upper)
        + _signup_counts(lower, upper)
    )
    rows = _known_only(counted, known)
    report = AdoptionReport(start=start, end=end, zone_name=zone_name)
    report.by_article = _roll_up(rows, lambda key: key[:1])
    report.by_campaign = _roll_up(rows, lambda key: key[1:])
    for row in report.by_article:
        report.totals.add(row)
    today = now.astimezone(ZoneInfo(zone_name)).date()
    report.weeks = weekly_counts(_booking_days(lower, upper, zone_name), start, min(end, today))
    return report


def _csv_rate(rate: float | None) -> str:
    """A rate as a plain percentage number for spreadsheets; empty when undefined."""
    return "" if rate is None else f"{rate * 100:.1f}"


def articles_csv(report: AdoptionReport) -> str:
    """Return the per-article table as CSV text, safe to open in a spreadsheet."""
    rows = [*report.by_article, report.totals]
    return spreadsheet_csv(CSV_HEADER, [_csv_cells(row) for row in rows])


def _csv_cells(row: ReportRow) -> tuple:
    """One row of the per-article CSV: its label, counts and rates."""
    label = article_label(row.key[0]) if row.key else "Total"
    cells = (label, row.visits, row.bookings, row.cancellations, row.attended, row.undelivered)
    cells += (_csv_rate(row.booking_rate), _csv_rate(row.attendance_rate))
    cells += (row.checks, row.reports_emailed, row.signups, row.check_bookings)
    cells += (_csv_rate(row.check_booking_rate),)
    return cells + (row.check_starts, _csv_rate(row.check_completion_rate))


# The chart's geometry in SVG user units; the viewBox lets CSS scale it to the page.
CHART_LEFT, CHART_TOP, CHART_HEIGHT, CHART_BOTTOM = 44, 24, 160, 36
BAR_SLOT, BAR_WIDTH = 40, 26
MAX_AXIS_LABELS = 16
# Markup(...).format escapes every argument, so no value reaches the SVG unescaped.
_AXIS = Markup('<line class="axis" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="currentColor"/>')
_TICK = Markup(
    '<text class="tick" x="{x}" y="{y}" text-anchor="end" font-size="11"'
    ' fill="currentColor">{value}</text>'
)
_BAR = Markup(
    '<g class="bar"><title>{title}</title>'
    '<rect x="{x}" y="{y}" width="{width}" height="{height}" fill="currentColor"'
    ' fill-opacity="0.7"/>'
    '<text x="{middle}" y="{count_y}" text-anchor="middle" font-size="11"'
    ' fill="currentColor">{count}</text>'
    '<text x="{middle}" y="{label_y}" text-anchor="middle" font-size="11"'
    ' fill="currentColor">{label}</text></g>'
)
_SVG = Markup(
    '<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}"'
    ' width="{width}" height="{height}" role="img"'
    ' aria-labelledby="{chart_id}-title {chart_id}-desc">'
    '<title id="{chart_id}-title">Bookings per week</title>'
    '<desc id="{chart_id}-desc">{desc}</desc>{body}</svg>'
)


def _y_ticks(top: int) -> list[int]:
    """Axis values to label: zero, the middle (rounded up) and the top."""
    return sorted({0, -(-top // 2), top})


def _chart_frame(weeks: list[WeekCount], top: int) -> tuple[int, list[Markup]]:
    """Return the chart width and its axes: lines and labelled ticks."""
    width = CHART_LEFT + BAR_SLOT * max(len(weeks), 1) + 12
    base = CHART_TOP + CHART_HEIGHT
    parts = [
        _AXIS.format(x1=CHART_LEFT, y1=CHART_TOP, x2=CHART_LEFT, y2=base),
        _AXIS.format(x1=CHART_LEFT, y1=base, x2=width - 6, y2=base),
    ]
    for tick in _y_ticks(top):
        y = base - round(CHART_HEIGHT * tick / top)
        parts.append(_TICK.format(x=CHART_LEFT - 6, y=y + 4, value=tick))
    return width, parts


def _chart_bar(index: int, week: WeekCount, top: int, show_label: bool) -> Markup:
    """One week's bar with its count above it and, if shown, its week number below."""
    height = round(CHART_HEIGHT * week.bookings / top)
    x = CHART_LEFT + BAR_SLOT * index + (BAR_SLOT - BAR_WIDTH) // 2
    base = CHART_TOP + CHART_HEIGHT
    noun = "booking" if week.bookings == 1 else "bookings"
    return _BAR.format(
        title=f"{week.label} (from {week.monday.isoformat()}): {week.bookings} {noun}",
        x=x,
        y=base - height,
        width=BAR_WIDTH,
        height=height,
        middle=x + BAR_WIDTH // 2,
        count_y=base - height - 4,
        count=week.bookings,
        label_y=base + 16,
        label=week.label.split("-")[1] if show_label else "",
    )


def bookings_chart_svg(weeks: list[WeekCount], chart_id: str = "bookings-chart") -> Markup:
    """Return an accessible inline SVG bar chart of bookings per ISO week (no script)."""
    top = max([week.bookings for week in weeks] + [1])
    width, frame = _chart_frame(weeks, top)
    step = -(-len(weeks) // MAX_AXIS_LABELS) or 1  # label every week, or every n-th
    bars = [_chart_bar(i, week, top, i % step == 0) for i, week in enumerate(weeks)]
    total = sum(week.bookings for week in weeks)
    span = f"{weeks[0].label} to {weeks[-1].label}" if weeks else "no weeks"
    return _SVG.format(
        width=width,
        height=CHART_TOP + CHART_HEIGHT + CHART_BOTTOM,
        chart_id=chart_id,
        desc=f"Bar chart of bookings per ISO week, {span}: {total} in all.",
        body=Markup("").join(frame + bars),
    )
