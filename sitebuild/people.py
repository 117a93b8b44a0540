"""Pelican plugin: the people of site.toml, matched to article bylines.

``[people.<key>]`` tables in site.toml hold each person's name, role, one-line bio and photo;
their section on /about is ``/about/#<key>``. After the articles are read, each article whose
``Author`` is a person's name gains ``article.person``: that table plus ``key`` and ``url``
(the /about anchor). Templates print the byline from it; ``sitebuild.seo`` names the author
as a schema.org ``Person``. An Author who is not in site.toml keeps a plain-text byline.

The settings ``PEOPLE`` (everyone, in site.toml's order, each with ``key`` and ``url``) and
``CONSULTANTS`` (those ``[assessment] consultants`` names, by key) are there for templates.
"""

from pelican import signals

ABOUT_PATH = "/about/"


def people(site: dict) -> list[dict]:
    """Every person of site.toml, each with its `key` and the `url` of its /about section."""
    return [
        {**person, "key": key, "url": f"{ABOUT_PATH}#{key}"}
        for key, person in site.get("people", {}).items()
    ]


def by_name(site: dict) -> dict[str, dict]:
    """People by name, as an article's Author field spells them."""
    return {person["name"]: person for person in people(site)}


class PeopleError(ValueError):
    """site.toml names a person (in [assessment] consultants) that has no [people.<key>] table."""


def consultants(site: dict) -> list[dict]:
    """The people `[assessment] consultants` names, in its order."""
    known = {person["key"]: person for person in people(site)}
    keys = site["assessment"].get("consultants", [])
    for key in keys:
        if key not in known:
            raise PeopleError(
                f"site.toml: [assessment] consultants names {key!r}, which has no "
                f"[people.{key}] table (known: {', '.join(known) or 'none'})"
            )
    return [known[key] for key in keys]


def on_initialized(pelican) -> None:
    """Add PEOPLE (every person) and CONSULTANTS (the assessment's) to the template settings."""
    pelican.settings["PEOPLE"] = people(pelican.settings["SITE"])
    pelican.settings["CONSULTANTS"] = consultants(pelican.settings["SITE"])


def on_articles_finalized(generator) -> None:
    """Give each article whose Author is in site.toml its `person`."""
    named = by_name(generator.settings["SITE"])
    for article in generator.articles + generator.drafts:
        author = getattr(article, "author", None)
        article.person = named.get(str(author)) if author else None


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.initialized.connect(on_initialized)
    signals.article_generator_finalized.connect(on_articles_finalized)
