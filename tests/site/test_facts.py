"""{fact:...} placeholders: every page states site.toml's facts, and only those.

The decisive test changes every fact the pages state in a copy of site.toml, builds the site
with it, and finds each new value (and not the old one) on the assessment page and in its
FAQ. New values are computed from the current ones, so editors may change any fact.
"""

import json
import re
import subprocess
import sys
import tomllib

import pytest

from sitebuild.facts import flatten, substitute, unknown_facts
from tests.conftest import ROOT
from tests.site.test_pages import jsonld, page

SITE = tomllib.loads((ROOT / "site.toml").read_text(encoding="utf-8"))
ASSESSMENT = SITE["assessment"]["page_path"]
FACTS = {"a": {"b": "text", "n": 12, "list": [1, 2], "c": {"d": "deep"}}, "flag": True}


def test_flatten_names_texts_and_numbers_by_dotted_path():
    assert flatten(FACTS) == {"a.b": "text", "a.n": "12", "a.c.d": "deep"}


def test_substitute_fills_known_facts_and_leaves_unknown_ones():
    facts = flatten(FACTS)
    text = "{fact:a.b} and {fact:a.n} h, {fact:a.c.d}; {fact:nope} stays"
    assert substitute(text, facts) == "text and 12 h, deep; {fact:nope} stays"


def test_unknown_facts_give_the_line_and_a_suggestion():
    facts = flatten(FACTS)
    problems = unknown_facts("Title: x\n\nfine {fact:a.b}\nbad {fact:a.bb} and {fact:a.c}\n", facts)
    assert [line for line, _ in problems] == [4, 4]
    assert "did you mean {fact:a.b}" in problems[0][1]
    assert "{fact:a.c.d}" in problems[1][1]  # a table: its facts are suggested


def build(tmp_path, site: dict | None = None, content=None):
    """Build the site (optionally with another SITE) into tmp_path/output; return the result."""
    cmd = [sys.executable, "-m", "pelican", str(content or ROOT / "content")]
    cmd += ["-s", "pelicanconf.py"]
    cmd += ["-o", str(tmp_path / "output"), "-e", f'SHARE_CARDS_CACHE="{tmp_path / "cards"}"']
    if site is not None:
        cmd += [f"SITE={json.dumps(site)}"]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_an_unknown_fact_fails_the_build_with_file_and_line(tmp_path):
    content = tmp_path / "content"
    subprocess.run(["cp", "-r", str(ROOT / "content"), str(content)], check=True)
    about = content / "pages" / "about.md"
    lines = about.read_text(encoding="utf-8").splitlines()
    lines.append("Write to {fact:firm.emial} today.")
    about.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = build(tmp_path, content=content)
    assert result.returncode != 0
    assert f"pages/about.md:{len(lines)}: '{{fact:firm.emial}}' names no fact" in result.stderr
    assert "did you mean {fact:firm.email}" in result.stderr


# --- Change every fact, rebuild, read the pages ------------------------------------------


def money(price: str, more: int) -> str:
    """The price `more` units higher, written the same way ("£1,950" -> "£2,061")."""
    amount = int(re.sub(r"\D", "", price)) + more
    return f"{price[0]}{amount:,}"


def changed_facts() -> dict[str, tuple[object, object]]:
    """Fact -> (old value, new value) for each fact the assessment page states."""
    old = flatten(SITE)
    session = SITE["session"]
    numbers = ["assessment.minutes", "session.change_cutoff_hours", "session.max_moves"]
    changes = {key: (int(old[key]), int(old[key]) + 17 + n) for n, key in enumerate(numbers)}
    # Keep min below max, both new: 40 and 50 more than today.
    changes["session.attendees_min"] = (session["attendees_min"], session["attendees_min"] + 40)
    changes["session.attendees_max"] = (session["attendees_max"], session["attendees_max"] + 50)
    changes["assessment.price"] = (old["assessment.price"], money(old["assessment.price"], 111))
    texts = ["contact.reply_within", "assessment.summary_within"]
    texts += [f"session.formats.{key}.label" for key in session["formats"]]
    texts += [f"session.formats.{key}.detail" for key in session["formats"]]
    texts += [f"people.{key}.bio" for key in SITE["assessment"]["consultants"]]
    for number, key in enumerate(texts):
        changes[key] = (old[key], f"changed fact number {number} zq")
    return changes


CHANGES = changed_facts()


def with_changes(site: dict, changes: dict) -> dict:
    """A deep copy of `site` with each dotted key set to its new value."""
    site = json.loads(json.dumps(site))
    for key, (_, new) in changes.items():
        *tables, last = key.split(".")
        target = site
        for table in tables:
            target = target[table]
        target[last] = new
    return site


@pytest.fixture(scope="module")
def changed_site(tmp_path_factory):
    """The site built with every fact of CHANGES changed."""
    folder = tmp_path_factory.mktemp("changed")
    result = build(folder, with_changes(SITE, CHANGES))
    assert result.returncode == 0, result.stderr
    return folder / "output"


def phrases(key: str, value) -> list[str]:
    """How the pages write a fact: numbers with their unit, texts as they are."""
    units = {
        "assessment.minutes": ["{} minutes", "{}-minute"],
        "session.change_cutoff_hours": ["{} hours"],
        "session.max_moves": ["{} times"],
        "session.attendees_min": ["Between {} and"],
        "session.attendees_max": ["and {} people"],
    }
    return [form.format(value) for form in units.get(key, ["{}"])]


@pytest.mark.parametrize("key", CHANGES)
def test_the_assessment_page_states_the_new_fact(changed_site, key):
    old, new = CHANGES[key]
    text = page(changed_site, ASSESSMENT).find("main").text()
    for phrase in phrases(key, new):
        assert phrase in text, phrase
    for phrase in phrases(key, old):
        assert phrase not in text, phrase


FAQ_FACTS = [
    "assessment.price",
    "session.change_cutoff_hours",
    "session.max_moves",
    "session.attendees_min",
    "contact.reply_within",
]


@pytest.mark.parametrize("key", FAQ_FACTS)
def test_the_faq_answers_state_the_new_fact(changed_site, key):
    old, new = CHANGES[key]
    faq = [item for item in jsonld(page(changed_site, ASSESSMENT)) if item["@type"] == "FAQPage"]
    answers = " ".join(q["acceptedAnswer"]["text"] for q in faq[0]["mainEntity"])
    assert any(phrase in answers for phrase in phrases(key, new))
    assert not any(phrase in answers for phrase in phrases(key, old))


def test_the_about_page_states_the_new_reply_time(changed_site):
    old, new = CHANGES["contact.reply_within"]
    text = page(changed_site, "/about/").find("main").text()
    assert new in text and old not in text


def test_the_home_page_states_the_new_price(changed_site):
    old, new = CHANGES["assessment.price"]
    text = page(changed_site, "/").find("main").text()
    assert new in text and old not in text
