"""Helpers for the booking tests: walk the booking steps like a browser would, fill the form.

`open_form(client, url)` opens the picker at `url`, follows its first time (as a tap would)
and returns the form page. Its `slots` are every time the picker offers, read by following
the grid's day and month links, only when a test asks for them.
"""

from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

GOALS = "We want a ranked shortlist of AI use cases for our claims team."


class FormPage(HTMLParser):
    """Collect a booking or manage page's inputs, selects, time links and grid links."""

    def __init__(self, html: str):
        super().__init__()
        self.hidden: dict[str, str] = {}
        self._slots: list[str] = []
        self.checked_slot: str | None = None
        self.selected: dict[str, str] = {}
        self.values: dict[str, str] = {}
        self.time_links: list[str] = []
        self.day_links: list[str] = []
        self.month_links: list[str] = []
        self._select: str | None = None
        self.feed(html)

    @property
    def slots(self) -> list[str]:
        """Return the slot values this page offers (time links, radios, the chosen time)."""
        return self._slots

    def handle_starttag(self, tag, attrs):
        """Record the inputs, selected options and the picker's links."""
        attr = dict(attrs)
        if tag == "input":
            self._input(attr)
        elif tag == "select":
            self._select = attr.get("name")
        elif tag == "option" and self._select and "selected" in attr:
            self.selected[self._select] = attr.get("value", "")
        elif tag == "a" and attr.get("href"):
            self._link(attr)

    def _input(self, attr):
        kind, name = attr.get("type", "text"), attr.get("name")
        if kind == "hidden":
            self.hidden[name] = attr.get("value", "")
            if name == "slot" and attr.get("value"):
                self._slots.append(attr["value"])
                self.checked_slot = attr["value"]
        elif kind == "radio" and name == "slot":
            self._slots.append(attr["value"])
            if "checked" in attr:
                self.checked_slot = attr["value"]
        elif name:
            self.values[name] = attr.get("value", "")

    def _link(self, attr):
        href = attr["href"]
        query = parse_qs(urlsplit(href).query)
        if "slot" in query and attr.get("class") == "time":
            self.time_links.append(href)
            self._slots.append(query["slot"][0])
        elif "day" in query:
            self.day_links.append(href)
        elif attr.get("rel") == "next" and "month" in query:
            self.month_links.append(href)

    def handle_endtag(self, tag):
        """Leave a select."""
        if tag == "select":
            self._select = None


class OpenedForm(FormPage):
    """The form page reached from a picker; `slots` lists every time that picker offers."""

    def __init__(self, html: str, client, picker: FormPage):
        self._client, self._picker, self._all = client, picker, None
        super().__init__(html)

    @property
    def slots(self) -> list[str]:
        """Return every offered slot value, following the picker's days and months once."""
        if self._all is None:
            self._all = offered_slots(self._client, self._picker)
        return self._all


def offered_slots(client, picker: FormPage) -> list[str]:
    """Follow every day and next-month link from `picker`; return all times, in order."""
    found, seen, pending = list(picker.slots), set(), picker.day_links + picker.month_links
    while pending:
        url = pending.pop(0)
        if url in seen:
            continue
        seen.add(url)
        page = FormPage(client.get(url).get_data(as_text=True))
        found += [value for value in page.slots if value not in found]
        pending += page.day_links + page.month_links
    return sorted(found)


def open_form(client, url: str = "/book", **kwargs) -> OpenedForm:
    """GET the picker at `url`, follow its first time; return the parsed form page."""
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.status_code
    picker = FormPage(response.get_data(as_text=True))
    assert picker.time_links, "the booking page offers no time"
    form = client.get(picker.time_links[0], headers={"Referer": f"http://localhost{url}"})
    assert form.status_code == 200, form.status_code
    return OpenedForm(form.get_data(as_text=True), client, picker)


def answers(page: FormPage, **overrides) -> dict:
    """Return a complete, valid submission for `page` (its chosen time), with overrides."""
    data = dict(page.hidden)
    data.update(
        name="Siobhán O'Brien",
        email="siobhan.obrien@example.com",
        company="Acme Insurance",
        role="Head of Operations",
        company_size="250-999",
        goals=GOALS,
        slot=page.checked_slot or page.slots[0],
        timezone=page.hidden.get("timezone") or "Europe/London",
        consent="y",
        website="",
    )
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}
