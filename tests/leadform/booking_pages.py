"""Helpers for the booking tests: read the form page like a browser would, fill it in."""

from html.parser import HTMLParser

GOALS = "We want a ranked shortlist of AI use cases for our claims team."


class FormPage(HTMLParser):
    """Collect the inputs of the booking page: hidden values, slot radios, selects."""

    def __init__(self, html: str):
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.slots: list[str] = []
        self.checked_slot: str | None = None
        self.selected: dict[str, str] = {}
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        """Record the inputs and selected options."""
        attr = dict(attrs)
        if tag == "input":
            self._input(attr)
        elif tag == "select":
            self._select = attr.get("name")
        elif tag == "option" and self._select and "selected" in attr:
            self.selected[self._select] = attr.get("value", "")

    def _input(self, attr):
        kind, name = attr.get("type", "text"), attr.get("name")
        if kind == "hidden":
            self.hidden[name] = attr.get("value", "")
        elif kind == "radio" and name == "slot":
            self.slots.append(attr["value"])
            if "checked" in attr:
                self.checked_slot = attr["value"]
        elif name:
            self.values[name] = attr.get("value", "")

    def handle_endtag(self, tag):
        """Leave a select."""
        if tag == "select":
            self._select = None


def open_form(client, url: str = "/book", **kwargs) -> FormPage:
    """GET the booking page and parse it."""
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.status_code
    return FormPage(response.get_data(as_text=True))


def answers(page: FormPage, **overrides) -> dict:
    """Return a complete, valid submission for `page` (first free slot), with overrides."""
    data = dict(page.hidden)
    data.update(
        name="Siobhán O'Brien",
        email="siobhan.obrien@example.com",
        company="Acme Insurance",
        role="Head of Operations",
        company_size="250-999",
        goals=GOALS,
        slot=page.slots[0],
        timezone="Europe/London",
        consent="y",
        website="",
    )
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}
