"""The organisation an e-mail address belongs to (SPEC section 1, trial rules).

The registrable domain from the Public Suffix List (private section included), case-folded and in
its IDNA A-label form; at a catalog free-mail provider, the canonical address.
"""

from __future__ import annotations

import socket
import tomllib
from importlib import resources
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licensing.catalog import CatalogError, MailboxRule, load_catalog, parse_catalog
from licensing.kit.errors import ValidationFailed
from licensing.licenses.customers import mailbox_of, organisation_of

CATALOG = load_catalog()

ORGANISATIONS = [
    # Registrable domains: subdomains fold into their organisation.
    ("it@acme.io", "acme.io"),
    ("Bob@ACME.io", "acme.io"),
    ("x@eu.acme.co.uk", "acme.co.uk"),
    ("x@acme.co.uk", "acme.co.uk"),
    ("x@mail.EU.Acme.CO.UK", "acme.co.uk"),
    ("x@a.b.c.d.example.com", "example.com"),
    ("x@acme.com.au", "acme.com.au"),
    ("x@dept.acme.ac.jp", "acme.ac.jp"),
    ("x@b.c.kawasaki.jp", "b.c.kawasaki.jp"),  # *.kawasaki.jp is a wildcard suffix
    ("x@www.city.kawasaki.jp", "city.kawasaki.jp"),  # !city.kawasaki.jp is an exception
    # IDNA: one organisation, in its A-label form, whichever way it is written.
    ("x@Bücher.example", "xn--bcher-kva.example"),
    ("x@xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("x@BÜCHER.example", "xn--bcher-kva.example"),
    ("x@shop.bücher.de", "xn--bcher-kva.de"),
    ("x@пример.рф", "xn--e1afmkfd.xn--p1ai"),
    ("x@mail.xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai"),
    # An address at a public suffix itself: the suffix is its own organisation.
    ("a@co.uk", "co.uk"),
    ("x@github.io", "github.io"),
    # Private-section suffixes count: two GitHub Pages sites are two organisations.
    ("x@alice.github.io", "alice.github.io"),
    ("x@bob.github.io", "bob.github.io"),
    ("x@www.alice.github.io", "alice.github.io"),
    ("x@myapp.herokuapp.com", "myapp.herokuapp.com"),
    # Unknown TLDs: the last two labels.
    ("x@acme.unknowntld", "acme.unknowntld"),
    ("x@eu.acme.unknowntld", "acme.unknowntld"),
    # Free mail: the canonical address.
    ("alice@gmail.com", "alice@gmail.com"),
    ("ALICE@GMail.com", "alice@gmail.com"),
    ("far.mer+1@googlemail.com", "farmer@gmail.com"),
    ("Far.Mer@gmail.com", "farmer@gmail.com"),
    ("f.a.r.m.e.r+trials+2@GoogleMail.COM", "farmer@gmail.com"),
    ("farmer+@gmail.com", "farmer@gmail.com"),
    ("+x@gmail.com", "+x@gmail.com"),  # nothing but a tag: kept as it is
    ("jo.doe+x@outlook.com", "jo.doe@outlook.com"),  # Outlook: dots count
    ("jo.doe+x@Hotmail.com", "jo.doe@hotmail.com"),  # and Hotmail is not an alias of Outlook
    ("jo.doe+x@live.com", "jo.doe@live.com"),
    ("jo.doe-news@yahoo.com", "jo.doe@yahoo.com"),
    ("jo.doe+news@yahoo.com", "jo.doe+news@yahoo.com"),  # Yahoo's tags are "-"
    ("jo+x@fastmail.com", "jo@fastmail.com"),
    ("jo+x@proton.me", "jo@proton.me"),
    ("jo+x@protonmail.com", "jo@protonmail.com"),
    # Free mail without mailbox rules: case-folded only.
    ("Jo.Doe+x@gmx.de", "jo.doe+x@gmx.de"),
    ("Jo.Doe@ICloud.com", "jo.doe@icloud.com"),
    ("Ärger@web.de", "ärger@web.de"),
    # Rules are for the provider's own domain, not for a company's subdomain of a similar name.
    ("far.mer+1@gmail.example", "gmail.example"),
]


@pytest.mark.parametrize(("email", "organisation"), ORGANISATIONS)
def test_organisation_of(email: str, organisation: str) -> None:
    assert organisation_of(email, CATALOG) == organisation


MAILBOXES = [
    # Anywhere: the local part case-folded and cut at its first "+", at the A-label domain, case-folded.
    ("Ann@Acme.io", "ann@acme.io"),
    ("ann+1@acme.io", "ann@acme.io"),
    ("ANN+2+3@ACME.io", "ann@acme.io"),
    ("ann+@acme.io", "ann@acme.io"),
    ("+x@acme.io", "+x@acme.io"),  # nothing but a tag: kept as it is
    ("a.nn@acme.io", "a.nn@acme.io"),  # dots count where the catalog does not say otherwise
    ("ann-news@acme.io", "ann-news@acme.io"),
    ("ann@eu.acme.io", "ann@eu.acme.io"),  # a subdomain is another mailbox (the same organisation)
    ("Ärger+x@Bücher.example", "ärger@xn--bcher-kva.example"),
    # Free mail: the catalog's rules besides.
    ("f.a.r.m.e.r+trials+2@GoogleMail.COM", "farmer@gmail.com"),
    ("jo.doe+x@outlook.com", "jo.doe@outlook.com"),
    ("jo.doe-news@yahoo.com", "jo.doe@yahoo.com"),
    ("jo.doe+news@yahoo.com", "jo.doe@yahoo.com"),
    ("Jo.Doe+x@gmx.de", "jo.doe@gmx.de"),
]


@pytest.mark.parametrize(("email", "mailbox"), MAILBOXES)
def test_mailbox_of(email: str, mailbox: str) -> None:
    assert mailbox_of(email, CATALOG) == mailbox


@pytest.mark.parametrize(
    "email", ["x@[192.0.2.1]", "x@[IPv6:2001:db8::1]", "x@localhost", "x@com", "not an address", "@acme.io"]
)
def test_what_is_not_an_address_is_refused(email: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        organisation_of(email, CATALOG)
    assert caught.value.code == "invalid_email"
    with pytest.raises(ValidationFailed) as caught:
        mailbox_of(email, CATALOG)
    assert caught.value.code == "invalid_email"


def test_the_list_ships_in_the_package_and_is_never_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    import publicsuffixlist

    assert resources.files("publicsuffixlist").joinpath("public_suffix_list.dat").is_file()

    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the Public Suffix List must not be fetched")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    psl = publicsuffixlist.PublicSuffixList(only_icann=False, accept_unknown=True)
    assert psl.privatesuffix("eu.acme.co.uk") == "acme.co.uk"
    assert psl.privatesuffix("alice.github.io") == "alice.github.io"


# --- hypothesis ----------------------------------------------------------------------------------
_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True).filter(lambda s: "--" not in s)
_SUFFIX = st.sampled_from(["com", "co.uk", "io", "github.io", "de", "com.au", "unknowntld", "bücher.de", "рф"])
_FREE_MAIL = st.sampled_from(sorted(CATALOG.free_mail_domains))
_LOCAL = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._+-]{0,15}[A-Za-z0-9])?", fullmatch=True).filter(
    lambda s: ".." not in s
)


def _mixed_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if flip else c for c, flip in zip(text, flips, strict=True))


@st.composite
def _addresses(draw: st.DrawFn) -> tuple[str, str]:
    """An address and the same address with its domain (and local part) in another case."""
    local = draw(_LOCAL)
    if draw(st.booleans()):
        domain = draw(_FREE_MAIL)
    else:
        domain = ".".join([*draw(st.lists(_LABEL, min_size=1, max_size=3)), draw(_SUFFIX)])
    return f"{local}@{domain}", f"{_mixed_case(draw, local)}@{_mixed_case(draw, domain)}"


@given(_addresses())
def test_organisation_of_ignores_case(pair: tuple[str, str]) -> None:
    email, recased = pair
    organisation = organisation_of(email, CATALOG)
    assert organisation_of(recased, CATALOG) == organisation
    assert organisation == organisation.casefold()
    if "@" in organisation:  # a canonical free-mail address is its own organisation
        assert organisation_of(organisation, CATALOG) == organisation
        assert organisation_of(organisation.upper(), CATALOG) == organisation


# --- the catalog's [trials.canonical] ------------------------------------------------------------
def _catalog_data(**trials: Any) -> dict[str, Any]:
    data = tomllib.loads(resources.files("licensing").joinpath("catalog.toml").read_text("utf-8"))
    data["trials"] = trials
    return data


def test_the_shipped_rules() -> None:
    rules = CATALOG.mailbox_rules
    assert rules["gmail.com"] == MailboxRule("gmail.com", ignore_dots=True, tag_separator="+")
    assert rules["googlemail.com"] == rules["gmail.com"]
    assert rules["outlook.com"] == MailboxRule("outlook.com", ignore_dots=False, tag_separator="+")
    assert rules["yahoo.com"].tag_separator == "-"
    assert set(rules) <= CATALOG.free_mail_domains


def test_an_alias_without_rules_of_its_own_target() -> None:
    catalog = parse_catalog(
        _catalog_data(free_mail_domains=["me.com", "icloud.com"], canonical={"me.com": {"alias_of": "icloud.com"}})
    )
    assert organisation_of("Jo.Doe+x@me.com", catalog) == "jo.doe+x@icloud.com"


@pytest.mark.parametrize(
    ("trials", "message"),
    [
        ({"free_mail_domains": "gmail.com"}, "free_mail_domains"),
        ({"free_mail_domains": ["gmail"]}, "free_mail_domains"),
        ({"free_mail_domains": ["gmail.com"], "canonical": []}, "must be a table"),
        ({"free_mail_domains": ["gmail.com"], "canonical": {"gmail.com": True}}, "expected"),
        ({"free_mail_domains": ["gmail.com"], "canonical": {"gmail.com": {}}}, "expected"),
        ({"free_mail_domains": ["gmail.com"], "canonical": {"acme.com": {"ignore_dots": True}}}, "not in"),
        ({"free_mail_domains": ["gmail.com"], "canonical": {"gmail.com": {"ignore_dot": True}}}, "unknown keys"),
        ({"free_mail_domains": ["gmail.com"], "canonical": {"gmail.com": {"ignore_dots": "yes"}}}, "ignore_dots"),
        ({"free_mail_domains": ["gmail.com"], "canonical": {"gmail.com": {"tag_separator": "++"}}}, "tag_separator"),
        ({"free_mail_domains": ["gmail.com"], "canonical": {"gmail.com": {"tag_separator": "."}}}, "tag_separator"),
        ({"free_mail_domains": ["gmail.com"], "canonical": {"gmail.com": {"alias_of": "gmail.com"}}}, "alias_of"),
        ({"free_mail_domains": ["gmail.com"], "canonical": {"gmail.com": {"alias_of": "acme.com"}}}, "alias_of"),
        (
            {
                "free_mail_domains": ["a.com", "b.com"],
                "canonical": {"a.com": {"alias_of": "b.com", "ignore_dots": True}},
            },
            "alone",
        ),
        (
            {
                "free_mail_domains": ["a.com", "b.com", "c.com"],
                "canonical": {"a.com": {"alias_of": "b.com"}, "b.com": {"alias_of": "c.com"}},
            },
            "itself an alias",
        ),
        (
            {
                "free_mail_domains": ["gmail.com"],
                "canonical": {"gmail.com": {"ignore_dots": True}, "GMAIL.com": {"ignore_dots": True}},
            },
            "given twice",
        ),
    ],
)
def test_nonsense_rules_are_refused(trials: dict[str, Any], message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        parse_catalog(_catalog_data(**trials))
