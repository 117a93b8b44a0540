"""Who takes a session: collective (all must be free) and round robin (least-loaded free)."""

import tomllib
from datetime import UTC, datetime

from leadform.calendars.busy import Interval
from leadform.calendars.hosts import load_hosts
from leadform.calendars.services import HostBusy, assign_hosts
from tests.leadform.conftest import SITE_FILE

START, END = datetime(2027, 1, 5, 10, tzinfo=UTC), datetime(2027, 1, 5, 11, 30, tzinfo=UTC)
HOSTS = """
[hosts.ada]
name = "Ada"
email = "ada@tessellate.example"
timezone = "UTC"
[hosts.grace]
name = "Grace"
email = "grace@tessellate.example"
timezone = "UTC"
[hosts.linus]
name = "Linus"
email = "linus@tessellate.example"
timezone = "America/New_York"
hours = { tuesday = ["09:00-17:00"] }
"""


def _config(rule: str):
    return load_hosts(tomllib.loads(SITE_FILE.read_text() + HOSTS + rule), {})


COLLECTIVE = _config('[assignment]\nrule = "collective"\nhosts = ["ada", "grace"]\n')
ROUND_ROBIN = _config(
    '[assignment]\nrule = "round_robin"\nhosts = ["ada", "grace", "linus"]\ncount = 2\n'
)


def _free(*host_ids):
    return {host_id: HostBusy(host_id) for host_id in host_ids}


def test_collective_needs_every_host_free():
    assert assign_hosts(COLLECTIVE, _free("ada", "grace"), START, END) == ("ada", "grace")
    busy = {**_free("ada"), "grace": HostBusy("grace", (Interval(START, END),))}
    assert assign_hosts(COLLECTIVE, busy, START, END) is None


def test_an_unavailable_host_is_never_assigned():
    busy = {**_free("ada"), "grace": HostBusy("grace", unavailable="calendar down")}
    assert assign_hosts(COLLECTIVE, busy, START, END) is None


def test_a_host_already_in_a_session_is_not_free():
    booked = {
        "grace": [(datetime(2027, 1, 5, 11, tzinfo=UTC), datetime(2027, 1, 5, 12, tzinfo=UTC))]
    }
    assert assign_hosts(COLLECTIVE, _free("ada", "grace"), START, END, booked=booked) is None


def test_round_robin_picks_the_least_loaded_free_hosts():
    # Linus works 09:00-17:00 New York time: 10:00 UTC is 05:00 there.
    everyone = _free("ada", "grace", "linus")
    assert assign_hosts(ROUND_ROBIN, everyone, START, END, load={"ada": 3}) == ("ada", "grace")
    later = (datetime(2027, 1, 5, 15, tzinfo=UTC), datetime(2027, 1, 5, 16, 30, tzinfo=UTC))
    assert assign_hosts(ROUND_ROBIN, everyone, *later, load={"ada": 3}) == ("grace", "linus")


def test_round_robin_without_enough_free_hosts_is_none():
    busy = {**_free("ada"), "grace": HostBusy("grace", (Interval(START, END),))}
    assert assign_hosts(ROUND_ROBIN, busy, START, END) is None


def test_round_robin_spreads_sequential_bookings_evenly():
    later = (datetime(2027, 1, 5, 15, tzinfo=UTC), datetime(2027, 1, 5, 16, 30, tzinfo=UTC))
    load = {"ada": 0, "grace": 0, "linus": 0}
    for _ in range(40):
        for host_id in assign_hosts(ROUND_ROBIN, _free("ada", "grace", "linus"), *later, load=load):
            load[host_id] += 1
    assert sorted(load.values()) == [26, 27, 27]
