"""Hosts and the assignment rule in site.toml: parsed, validated with the key named."""

import tomllib
from datetime import UTC, datetime

import pytest

from leadform.calendars.hosts import CalDAVSource, FeedSource, HostsConfigError, load_hosts
from tests.conftest import ROOT
from tests.leadform.conftest import SITE_FILE

SECRETS = {
    "LEADFORM_CALENDAR_SECRET_ADA": "s3cret",
    "LEADFORM_CALENDAR_SECRET_GRACE_FEED": "https://calendar.example/private-abc/basic.ics",
}
GOOD = """
[hosts.ada]
name = "Ada Example"
email = "ada@tessellate.example"
aliases = ["ada.example@tessellate.example"]
timezone = "Europe/London"
hours = { monday = ["09:00-12:00", "13:00-17:00"], tuesday = ["09:00-17:00"] }

[[hosts.ada.calendars]]
type = "caldav"
url = "https://caldav.example/dav/"
username = "ada"
password_env = "LEADFORM_CALENDAR_SECRET_ADA"
calendars = ["Work"]

[hosts.grace]
name = "Grace Example"
email = "grace@tessellate.example"
timezone = "America/New_York"

[[hosts.grace.calendars]]
type = "ics"
url_env = "LEADFORM_CALENDAR_SECRET_GRACE_FEED"
label = "Google"
all_day_events = "as_marked"

[[hosts.grace.calendars]]
type = "ics"
url = "webcal://holidays.example/uk.ics"

[assignment]
rule = "round_robin"
hosts = ["ada", "grace"]
count = 1
"""


def _site(extra: str) -> dict:
    return tomllib.loads(SITE_FILE.read_text() + "\n" + extra)


def test_no_hosts_is_todays_single_host_setup():
    config = load_hosts(_site(""), {})
    assert not config.enabled
    assert config.sources() == []


def test_the_real_site_toml_loads():
    site = tomllib.loads((ROOT / "site.toml").read_text())
    load_hosts(site, {})


def test_a_full_configuration_is_read():
    config = load_hosts(_site(GOOD), SECRETS)
    ada, grace = config.hosts["ada"], config.hosts["grace"]
    assert config.enabled
    assert (config.assignment.rule, config.assignment.count) == ("round_robin", 1)
    assert ada.addresses == {"ada@tessellate.example", "ada.example@tessellate.example"}
    (caldav_source,) = ada.sources
    assert isinstance(caldav_source, CalDAVSource)
    assert caldav_source.password == "s3cret"
    assert caldav_source.calendar_names == ("Work",)
    feed, holidays = grace.sources
    assert isinstance(feed, FeedSource) and feed.url.endswith("basic.ics")
    assert feed.label == "Google" and not feed.all_day_busy
    assert holidays.url == "https://holidays.example/uk.ics" and holidays.all_day_busy
    assert grace.weekly_hours is None


def test_secrets_never_show_in_labels_or_reprs():
    config = load_hosts(_site(GOOD), SECRETS)
    for source in config.sources():
        for secret in SECRETS.values():
            assert secret not in source.label
            assert secret not in repr(source)
            assert secret not in source.key


def test_source_keys_are_stable_and_distinct():
    first = [source.key for source in load_hosts(_site(GOOD), SECRETS).sources()]
    again = [source.key for source in load_hosts(_site(GOOD), SECRETS).sources()]
    assert first == again
    assert len(set(first)) == len(first)


def test_weekly_hours_decide_when_a_host_works():
    ada = load_hosts(_site(GOOD), SECRETS).hosts["ada"]
    # Monday 4 January 2027, London = UTC in winter
    assert ada.works_during(
        datetime(2027, 1, 4, 9, tzinfo=UTC), datetime(2027, 1, 4, 10, 30, tzinfo=UTC)
    )
    assert not ada.works_during(
        datetime(2027, 1, 4, 11, tzinfo=UTC), datetime(2027, 1, 4, 12, 30, tzinfo=UTC)
    )
    assert not ada.works_during(
        datetime(2027, 1, 6, 9, tzinfo=UTC), datetime(2027, 1, 6, 10, tzinfo=UTC)
    )


def _replace(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


@pytest.mark.parametrize(
    ("toml", "key", "problem"),
    [
        (
            _replace('timezone = "Europe/London"', 'timezone = "Europe/Lundon"'),
            "hosts.ada.timezone",
            "IANA",
        ),
        (_replace('email = "ada@tessellate.example"', 'email = "ada"'), "hosts.ada.email", "email"),
        (_replace('name = "Ada Example"\n', ""), "hosts.ada.name", "missing"),
        (
            _replace('tuesday = ["09:00-17:00"]', 'tuesday = ["9-17"]'),
            "hosts.ada.hours.tuesday",
            "HH:MM",
        ),
        (
            _replace('tuesday = ["09:00-17:00"]', 'tusday = ["09:00-17:00"]'),
            "hosts.ada.hours.tusday",
            "weekday",
        ),
        (_replace('type = "caldav"', 'type = "exchange"'), "hosts.ada.calendars[0].type", "caldav"),
        (
            _replace('password_env = "LEADFORM_CALENDAR_SECRET_ADA"', 'password = "hunter2"'),
            "hosts.ada.calendars[0].password_env",
            "missing",
        ),
        (
            _replace(
                'password_env = "LEADFORM_CALENDAR_SECRET_ADA"', 'password_env = "ADA_PASSWORD"'
            ),
            "hosts.ada.calendars[0].password_env",
            "LEADFORM_CALENDAR_SECRET_",
        ),
        (
            _replace(
                'password_env = "LEADFORM_CALENDAR_SECRET_ADA"',
                'password_env = "LEADFORM_CALENDAR_SECRET_NOPE"',
            ),
            "hosts.ada.calendars[0].password_env",
            "not set",
        ),
        (
            _replace('url = "https://caldav.example/dav/"', 'url = "ftp://x/"'),
            "hosts.ada.calendars[0].url",
            "http",
        ),
        (
            _replace(
                'url = "webcal://holidays.example/uk.ics"',
                'url = "https://a/b.ics"\nurl_env = "LEADFORM_CALENDAR_SECRET_ADA"',
            ),
            "hosts.grace.calendars[1]",
            "either url or url_env",
        ),
        (
            _replace('all_day_events = "as_marked"', 'all_day_events = "free"'),
            "hosts.grace.calendars[0].all_day_events",
            "as_marked",
        ),
        (
            _replace('label = "Google"', 'lable = "Google"'),
            "hosts.grace.calendars[0].lable",
            "unknown key",
        ),
        (_replace('rule = "round_robin"', 'rule = "random"'), "assignment.rule", "round_robin"),
        (
            _replace('hosts = ["ada", "grace"]', 'hosts = ["ada", "linus"]'),
            "assignment.hosts",
            "'linus'",
        ),
        (_replace("count = 1", "count = 3"), "assignment.count", "between 1 and 2"),
        (_replace("count = 1", 'count = "one"'), "assignment.count", "whole number"),
        (
            _replace('rule = "round_robin"', 'rule = "collective"'),
            "assignment.count",
            "only for round_robin",
        ),
        (
            _replace("[hosts.ada]", "[hosts.Ada]").replace(
                "hosts.ada.calendars", "hosts.Ada.calendars"
            ),
            "hosts.Ada",
            "lower case",
        ),
    ],
)
def test_mistakes_name_the_key(toml, key, problem):
    with pytest.raises(HostsConfigError) as caught:
        load_hosts(_site(toml), SECRETS)
    assert caught.value.key == key
    assert problem in caught.value.problem


def test_assignment_without_hosts_is_refused():
    with pytest.raises(HostsConfigError, match="^assignment: needs a \\[hosts\\] table"):
        load_hosts(_site('[assignment]\nrule = "collective"\nhosts = ["ada"]\n'), {})


def test_without_an_assignment_every_host_attends():
    toml = GOOD[: GOOD.index("[assignment]")]
    config = load_hosts(_site(toml), SECRETS)
    assert config.assignment.rule == "collective"
    assert config.assignment.host_ids == ("ada", "grace")
