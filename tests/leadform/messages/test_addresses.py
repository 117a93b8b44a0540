"""Typo suggestions for email domains: a table of what is corrected and what is left alone."""

import pytest

from leadform.messages.addresses import edit_distance, suggest_address


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        # Transposed, missing, doubled or neighbouring letters in a provider's name
        ("ada@gmial.com", "ada@gmail.com"),
        ("ada@gamil.com", "ada@gmail.com"),
        ("ada@gmai.com", "ada@gmail.com"),
        ("ada@gnail.com", "ada@gmail.com"),
        ("ada@googlemial.com", "ada@googlemail.com"),
        ("ada@hotmial.com", "ada@hotmail.com"),
        ("ada@hotmaill.com", "ada@hotmail.com"),
        ("ada@outlok.com", "ada@outlook.com"),
        ("ada@outllook.com", "ada@outlook.com"),
        ("ada@yaho.com", "ada@yahoo.com"),
        ("ada@yahooo.co.uk", "ada@yahoo.co.uk"),
        ("ada@iclod.com", "ada@icloud.com"),
        ("ada@iclould.com", "ada@icloud.com"),
        ("ada@protn.me", "ada@proton.me"),
        ("ada@protonmial.com", "ada@protonmail.com"),
        # Endings that exist nowhere, or are a provider's slip
        ("ada@gmail.con", "ada@gmail.com"),
        ("ada@gmail.cmo", "ada@gmail.com"),
        ("ada@hotmail.ocm", "ada@hotmail.com"),
        ("ada@gmail.co", "ada@gmail.com"),
        ("ada@yahoo.cm", "ada@yahoo.com"),
        ("ada@hotmail.co.uj", "ada@hotmail.co.uk"),
        ("ada@gmailcom", "ada@gmail.com"),
        ("ada@gmail", "ada@gmail.com"),
        ("ada@acme.con", "ada@acme.com"),
        ("ada@acme.couk", "ada@acme.co.uk"),
        # Both at once; the local part stays exactly as typed
        ("Ada.Lovelace+book@GMIAL.CON", "Ada.Lovelace+book@gmail.com"),
        ("  ada@gmial.com ", "ada@gmail.com"),
    ],
)
def test_common_typos_get_a_suggestion(typed, suggested):
    assert suggest_address(typed) == suggested


@pytest.mark.parametrize(
    "typed",
    [
        # Correct provider addresses
        "ada@gmail.com",
        "ada@googlemail.com",
        "ada@outlook.com",
        "ada@hotmail.co.uk",
        "ada@yahoo.com",
        "ada@icloud.com",
        "ada@proton.me",
        "ada@protonmail.com",
        # Real domains a typo away from a provider's
        "ada@mail.com",
        "ada@email.com",
        "ada@ymail.com",
        "ada@gmx.com",
        "ada@me.com",
        "ada@cloud.com",
        "ada@wahoo.com",
        "ada@life.com",
        # Unusual but valid: company domains, other countries, subdomains, real TLDs
        "ada@tessellate.example",
        "ada@acme.co",
        "ada@acme.co.uk",
        "ada@company.cm",
        "ada@yahoo.co.jp",
        "ada@outlook.de",
        "ada@gmx.de",
        "ada@mail.google.com",
        "ada@dept.univ.ac.uk",
        "ada@xn--bcher-kva.example",
        # Not addresses at all
        "not-an-address",
        "@gmial.com",
        "ada@",
        "",
    ],
)
def test_correct_or_unusual_addresses_get_none(typed):
    assert suggest_address(typed) is None


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("gmail", "gmail", 0),
        ("gmial", "gmail", 1),
        ("gmai", "gmail", 1),
        ("gnail", "gmail", 1),
        ("yahoo", "gmail", 5),
        ("", "abc", 3),
    ],
)
def test_edit_distance_counts_a_swap_as_one_edit(a, b, distance):
    assert edit_distance(a, b) == distance
