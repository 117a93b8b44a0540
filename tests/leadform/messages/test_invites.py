"""The calendar invite, parsed back with icalendar."""

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from leadform.messages.invites import InvalidInviteError, build_invite

START = datetime(2026, 7, 14, 13, 0)  # naive UTC, as stored: 14:00 in London (BST)
END = datetime(2026, 7, 14, 14, 30)
HOSTILE = 'Zoë "Drop"; DROP TABLE x,\r\nBEGIN:VEVENT\nATTENDEE:mailto:evil@example.com ' + "é" * 300


def invite(**overrides) -> bytes:
    """An invite with sensible defaults, any argument overridable."""
    fields = {
        "uid": "abc123@book.tessellate.example",
        "sequence": 0,
        "method": "REQUEST",
        "start_utc": START,
        "end_utc": END,
        "summary": "AI Readiness Assessment with Tessellate Advisory",
        "description": "90 minutes.",
        "location": "Online",
        "organizer_email": "hello@tessellate.example",
        "organizer_name": "Tessellate Advisory",
        "attendee_email": "ada@example.com",
        "attendee_name": "Ada Example",
        "host_tz": "Europe/London",
        "url": "https://book.tessellate.example",
    }
    return build_invite(**(fields | overrides))


def event_of(data: bytes):
    """The single VEVENT of a parsed invite."""
    (event,) = Calendar.from_ical(data).walk("VEVENT")
    return event


def test_request_carries_method_uid_sequence_and_status():
    calendar = Calendar.from_ical(invite(sequence=2))
    (event,) = calendar.walk("VEVENT")

    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == "abc123@book.tessellate.example"
    assert event["SEQUENCE"] == 2
    assert str(event["STATUS"]) == "CONFIRMED"
    assert "DTSTAMP" in event


def test_cancel_is_a_cancelled_event():
    calendar = Calendar.from_ical(invite(method="CANCEL", sequence=1))

    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event_of(invite(method="CANCEL"))["STATUS"]) == "CANCELLED"


def test_times_are_in_the_host_zone_and_equal_the_utc_instants():
    event = event_of(invite())
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")

    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert (start.hour, start.minute) == (14, 0)
    assert (start, end) == (START.replace(tzinfo=UTC), END.replace(tzinfo=UTC))


def test_organizer_and_attendee():
    event = event_of(invite())
    attendee = event["ATTENDEE"]

    assert str(event["ORGANIZER"]) == "mailto:hello@tessellate.example"
    assert event["ORGANIZER"].params["CN"] == "Tessellate Advisory"
    assert str(attendee) == "mailto:ada@example.com"
    assert (attendee.params["RSVP"], attendee.params["PARTSTAT"]) == ("TRUE", "NEEDS-ACTION")


def test_vtimezone_is_bounded_and_the_invite_small():
    data = invite()

    assert len(Calendar.from_ical(data).walk("VTIMEZONE")) == 1
    assert len(data) < 1500


@pytest.mark.parametrize("field", ["summary", "description", "location", "attendee_name"])
def test_hostile_text_survives_the_round_trip(field):
    data = invite(**{field: HOSTILE})
    event = event_of(data)

    value = event["ATTENDEE"].params["CN"] if field == "attendee_name" else str(event[field])
    assert value.replace("\r\n", "\n") == HOSTILE.replace("\r\n", "\n")
    assert len(Calendar.from_ical(data).walk("VEVENT")) == 1


def test_hostile_text_adds_no_attendee():
    event = event_of(invite(description=HOSTILE, summary=HOSTILE))

    assert str(event["ATTENDEE"]) == "mailto:ada@example.com"


@pytest.mark.parametrize(
    "overrides",
    [
        {"method": "PUBLISH"},
        {"end_utc": START},
        {"attendee_email": "ada@example.com\r\nATTENDEE:mailto:evil@example.com"},
        {"url": "https://book.example\r\nATTENDEE:mailto:evil@example.com"},
    ],
)
def test_inconsistent_arguments_are_refused(overrides):
    with pytest.raises(InvalidInviteError):
        invite(**overrides)


def test_stamp_is_the_given_moment_in_utc():
    data = invite(stamp=datetime(2026, 1, 2, 3, 4, 5))

    assert b"\r\nDTSTAMP:20260102T030405Z\r\n" in data


def test_a_utc_host_writes_utc_times_without_tzid():
    event = event_of(invite(host_tz="UTC"))

    assert "TZID" not in event["DTSTART"].params
    assert event.decoded("DTSTART") == START.replace(tzinfo=UTC)


# --- Random and awkward inputs read back as given ------------------------------------------


# Zones with DST at midnight (Santiago, Havana), half-hour DST (Lord Howe), odd offsets
# (Kathmandu, Chatham), no DST, and names icalendar writes as UTC.
ZONES = [
    "Europe/London",
    "America/New_York",
    "America/Santiago",
    "America/Havana",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Asia/Tokyo",
    "UTC",
    "Etc/UTC",
]
TEXT_PIECES = [*"abcXYZ 019.-_/@", *";,:\\^\"'\r\n\t", "é", "€", "𝄞", "\u2019", "\\N", "\r\n"]
# Events across clock changes and a new year, where the VTIMEZONE must cover both sides.
AWKWARD_STARTS = [
    datetime(2026, 3, 29, 0, 30),  # London springs forward at 01:00 UTC
    datetime(2026, 10, 25, 0, 30),  # and falls back at 01:00 UTC
    datetime(2026, 11, 1, 5, 30),  # New York falls back at 06:00 UTC
    datetime(2026, 4, 5, 2, 30),  # Santiago's and Lord Howe's autumn
    datetime(2026, 12, 31, 23, 0),  # into 2027
]


# Display names: icalendar's reader (not its writer) reads backslash escapes into parameter
# values that RFC 6868 does not define, so names here carry no backslash.
NAME_PIECES = [piece for piece in TEXT_PIECES if "\\" not in piece]


def random_text(rng: random.Random, longest: int, pieces: list[str] = TEXT_PIECES) -> str:
    """Text of awkward length made of characters that need escaping, quoting or folding."""
    length = rng.choice([0, 1, 20, 73, 74, 75, 76, rng.randint(0, longest)])
    return "".join(rng.choice(pieces) for _ in range(length))


def random_invite_fields(rng: random.Random) -> dict:
    """Arguments for an invite: hostile free text, any zone, awkward or random times."""
    if rng.random() < 0.3:
        start = rng.choice(AWKWARD_STARTS)
    else:
        start = datetime(2026, 1, 1) + timedelta(minutes=15 * rng.randint(0, 4 * 365 * 96))
    return {
        "uid": rng.choice(["abc123@book.tessellate.example", "a,b;c@x", "x" * 90 + "@d"]),
        "sequence": rng.randint(0, 5),
        "method": rng.choice(["REQUEST", "CANCEL"]),
        "start_utc": start,
        "end_utc": start + timedelta(minutes=rng.choice([30, 90, 180])),
        "summary": random_text(rng, 200),
        "description": random_text(rng, 400),
        "location": random_text(rng, 100),
        "organizer_email": "hello@tessellate.example",
        "organizer_name": random_text(rng, 120, NAME_PIECES),
        "attendee_email": "ada@example.com",
        "attendee_name": random_text(rng, 250, NAME_PIECES),
        "host_tz": rng.choice(ZONES),
        "url": rng.choice([None, "https://book.tessellate.example/" + "x" * rng.randint(0, 90)]),
        "stamp": datetime(2026, 11, 24, 9, 30, 15),
    }


def as_read_back(text: str, *, parameter: bool = False) -> str:
    r"""What a reader gets back for `text`: iCalendar has one kind of line break, and in a
    TEXT value icalendar reads a literal "\N" as one.

    A parameter (a display name) reads back without its outer white space.
    """
    text = text.strip() if parameter else text.replace("\\N", "\n")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def check_reads_back(data: bytes, fields: dict) -> None:
    """Parse `data` and check every property against the arguments that built it."""
    calendar = Calendar.from_ical(data)
    event = event_of(data)
    assert str(calendar["METHOD"]) == fields["method"]
    assert str(event["UID"]) == fields["uid"]
    assert int(event["SEQUENCE"]) == fields["sequence"]
    assert str(event["STATUS"]) == {"REQUEST": "CONFIRMED", "CANCEL": "CANCELLED"}[fields["method"]]
    for name in ("summary", "description", "location"):
        assert str(event[name.upper()]) == as_read_back(fields[name]), name
    assert str(event["ORGANIZER"]) == f"mailto:{fields['organizer_email']}"
    written_cn = event["ORGANIZER"].params["CN"].strip()
    assert written_cn == as_read_back(fields["organizer_name"], parameter=True)
    assert str(event["ATTENDEE"]) == f"mailto:{fields['attendee_email']}"
    written_cn = event["ATTENDEE"].params["CN"].strip()
    assert written_cn == as_read_back(fields["attendee_name"], parameter=True)
    assert event.get("URL") == fields["url"]
    assert event.decoded("DTSTAMP") == fields["stamp"].replace(tzinfo=UTC)
    zone = ZoneInfo(fields["host_tz"])
    for name, key in (("DTSTART", "start_utc"), ("DTEND", "end_utc")):
        instant = fields[key].replace(tzinfo=UTC)
        local = instant.astimezone(zone)
        if local.replace(fold=1).astimezone(UTC) == local.replace(fold=0).astimezone(UTC):
            # A wall time the clock shows twice is read as its first showing (RFC 5545);
            # any other time must read back as the same instant.
            assert event.decoded(name).astimezone(UTC) == instant, name


@pytest.mark.parametrize("seed", range(4))
def test_random_invites_read_back_as_given(seed):
    rng = random.Random(seed)
    for _ in range(100):
        fields = random_invite_fields(rng)

        check_reads_back(build_invite(**fields), fields)


def test_awkward_starts_read_back_in_every_zone():
    for zone in ZONES:
        for start in AWKWARD_STARTS:
            fields = random_invite_fields(random.Random(1)) | {
                "host_tz": zone,
                "start_utc": start,
                "end_utc": start + timedelta(minutes=90),
            }

            check_reads_back(build_invite(**fields), fields)


# --- Line breaks and folding ----------------------------------------------------------


def physical_lines(data: bytes) -> list[bytes]:
    """The lines as written, folds not undone."""
    assert data.endswith(b"\r\n")
    return data[:-2].split(b"\r\n")


def test_lines_end_in_crlf_and_nothing_else():
    data = invite(summary=HOSTILE, description=HOSTILE, attendee_name=HOSTILE)

    assert b"\r" not in data.replace(b"\r\n", b"")
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_long_lines_fold_within_75_octets_between_characters():
    data = invite(summary=HOSTILE, description="😀" * 100, attendee_name=HOSTILE)
    lines = physical_lines(data)

    assert max(len(line) for line in lines) <= 75
    assert all(line.decode("utf-8") for line in lines)  # no character cut in two
    assert sum(line.startswith(b" ") for line in lines) > 10


def test_a_fold_never_separates_an_escape_from_its_character():
    # 73 characters, then an escaped comma across the 75-octet limit.
    data = invite(description="x" * 61 + "," + "y" * 100)
    lines = physical_lines(data)

    for line, following in zip(lines, lines[1:], strict=False):
        if following.startswith(b" "):
            assert not line.endswith((b"\\", b"^")), line


def test_the_hosts_attend_as_accepted_attendees_beside_the_prospect():
    hosts = [("Ada Host", "ada@tessellate.example"), ("Grace Host", "grace@tessellate.example")]
    attendees = event_of(invite(hosts=hosts))["ATTENDEE"]

    assert [str(a) for a in attendees] == [
        "mailto:ada@example.com",
        "mailto:ada@tessellate.example",
        "mailto:grace@tessellate.example",
    ]
    assert attendees[0].params["PARTSTAT"] == "NEEDS-ACTION"
    assert [(a.params["CN"], a.params["PARTSTAT"]) for a in attendees[1:]] == [
        ("Ada Host", "ACCEPTED"),
        ("Grace Host", "ACCEPTED"),
    ]
    assert all("RSVP" not in a.params for a in attendees[1:])
