"""The offer catalog: offers, their features, seats, terms and prices, read from a TOML file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from licensing.kit.errors import ValidationFailed

TIERS = ("free", "professional", "enterprise")
FEATURE_NAME_MAX = 64


class CatalogError(ValueError):
    """The catalog file is unusable; the message says where."""


@dataclass(frozen=True, slots=True)
class SeatRule:
    default: int | None  # None: unlimited
    minimum: int = 1
    maximum: int | None = None

    def check(self, seats: int | None) -> int | None:
        """The seat count to issue for a request of ``seats`` (None: the default)."""
        if seats is None:
            return self.default
        if self.default is None:
            raise ValidationFailed("This offer has unlimited seats; do not give a seat count.", field="seats")
        if seats < self.minimum or (self.maximum is not None and seats > self.maximum):
            raise ValidationFailed(
                f"Seats must be between {self.minimum} and {self.maximum}, not {seats}.",
                field="seats",
                code="invalid_seats",
            )
        return seats


@dataclass(frozen=True, slots=True)
class Price:
    lookup_key: str
    interval: str  # "month" | "year"
    unit_amount: int  # minor units per seat
    currency: str


@dataclass(frozen=True, slots=True)
class Offer:
    key: str
    tier: str
    trial: bool
    term_days: int  # 0: perpetual (free) or set by the caller / the paid period
    seats: SeatRule
    grace_days: int
    features: tuple[str, ...]
    self_serve: bool
    prices: tuple[Price, ...] = ()
    # How often a customer may move a bound line to another installation in the portal in any 365 days
    # (SPEC section 8; sales may always move one). 0: never by the customer.
    max_moves: int = 0


@dataclass(frozen=True, slots=True)
class MailboxRule:
    """How a free-mail provider maps an address to its mailbox (``[trials.canonical]``)."""

    domain: str  # the canonical domain: the provider's own, or the one it is an alias of
    ignore_dots: bool = False  # dots in the local part do not matter
    tag_separator: str | None = None  # the local part ends at this character ("+tag", "-keyword")


@dataclass(frozen=True, slots=True)
class SalesRouting:
    """``[sales.routing]``: who owns a new organisation's leads. ``accounts`` (registrable domain ->
    owner) first, then ``territories`` (the address's country-code TLD -> owner), then ``default``;
    without any, ``LICENSING_SALES_EMAIL`` (``licensing.leads.routing``)."""

    default: str | None = None
    accounts: dict[str, str] = field(default_factory=dict)
    territories: dict[str, str] = field(default_factory=dict)


def _routing(data: dict[str, Any]) -> SalesRouting:
    sales = data.get("sales") or {}
    raw = sales.get("routing") or {} if isinstance(sales, dict) else None
    if not isinstance(raw, dict):
        raise CatalogError("[sales.routing] must be a table")
    default = raw.get("default")
    if default is not None and not (isinstance(default, str) and "@" in default):
        raise CatalogError("sales.routing.default: expected an e-mail address")
    tables: list[dict[str, str]] = []
    for name in ("accounts", "territories"):
        table = raw.get(name) or {}
        if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and "@" in v for k, v in table.items()
        ):
            raise CatalogError(f'sales.routing.{name}: expected a table of name = "owner e-mail"')
        tables.append({k.casefold().strip("."): v for k, v in table.items()})
    return SalesRouting(default=default, accounts=tables[0], territories=tables[1])


@dataclass(frozen=True, slots=True)
class Catalog:
    offers: dict[str, Offer]
    tier_features: dict[str, tuple[str, ...]]
    free_mail_domains: frozenset[str] = field(default_factory=frozenset)
    # Free-mail domain -> its mailbox rule, aliases resolved to their target's rule.
    mailbox_rules: dict[str, MailboxRule] = field(default_factory=dict)
    routing: SalesRouting = field(default_factory=lambda: SalesRouting())

    def offer(self, key: str) -> Offer:
        try:
            return self.offers[key]
        except KeyError:
            raise ValidationFailed(f"Unknown offer {key!r}.", code="unknown_offer") from None

    def offer_for(self, tier: str, trial: bool) -> Offer:
        """The offer a sales-issued license of ``tier`` starts from."""
        if tier not in TIERS:
            raise ValidationFailed(
                f"Unknown tier {tier!r}; expected one of {', '.join(TIERS)}.", field="tier", code="unknown_tier"
            )
        if tier == "professional":
            return self.offer("professional_trial" if trial else "professional")
        if trial:
            raise ValidationFailed("Only professional licenses have trials.", field="trial", code="invalid_trial")
        return self.offer(tier)

    def price(self, lookup_key: str) -> Price:
        for offer in self.offers.values():
            for price in offer.prices:
                if price.lookup_key == lookup_key:
                    return price
        raise ValidationFailed(f"Unknown price {lookup_key!r}.", code="unknown_price")

    @property
    def known_features(self) -> frozenset[str]:
        return frozenset(f for features in self.tier_features.values() for f in features)


def _seat_rule(value: Any, where: str) -> SeatRule:
    if value == "unlimited":
        return SeatRule(default=None, minimum=1, maximum=None)
    if isinstance(value, dict) and all(isinstance(value.get(k), int) for k in ("default", "min", "max")):
        if not 1 <= value["min"] <= value["default"] <= value["max"]:
            raise CatalogError(f"{where}.seats: need 1 <= min <= default <= max")
        return SeatRule(default=value["default"], minimum=value["min"], maximum=value["max"])
    raise CatalogError(f'{where}.seats: expected "unlimited" or {{default, min, max}}')


def _max_moves(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CatalogError(f"{where}.max_moves: expected an integer >= 0")
    return value


def parse_catalog(data: dict[str, Any]) -> Catalog:
    try:
        professional = tuple(data["features"]["professional"])
        enterprise = tuple(dict.fromkeys(professional + tuple(data["features"]["enterprise"])))
    except (KeyError, TypeError) as exc:
        raise CatalogError(f"[features] needs professional and enterprise lists ({exc})") from None
    tier_features = {"free": (), "professional": professional, "enterprise": enterprise}
    offers: dict[str, Offer] = {}
    for key, raw in (data.get("offers") or {}).items():
        where = f"offers.{key}"
        try:
            tier = raw["tier"]
            if tier not in TIERS:
                raise CatalogError(f"{where}.tier: {tier!r} is not one of {TIERS}")
            features = raw.get("features", [])
            resolved = tier_features[features] if isinstance(features, str) else tuple(features)
            offers[key] = Offer(
                key=key,
                tier=tier,
                trial=bool(raw.get("trial", False)),
                term_days=int(raw.get("term_days", 0)),
                seats=_seat_rule(raw.get("seats", "unlimited"), where),
                grace_days=int(raw.get("grace_days", 0)),
                features=tuple(sorted(resolved)),
                self_serve=bool(raw.get("self_serve", False)),
                max_moves=_max_moves(raw.get("max_moves", 0), where),
                prices=tuple(
                    Price(p["lookup_key"], p["interval"], int(p["unit_amount"]), p["currency"])
                    for p in raw.get("prices", [])
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, CatalogError):
                raise
            raise CatalogError(f"{where}: {exc!r}") from None
    for required in ("free", "professional_trial", "professional", "enterprise"):
        if required not in offers:
            raise CatalogError(f"the catalog must define offers.{required}")
    trials = data.get("trials") or {}
    if not isinstance(trials, dict):
        raise CatalogError("[trials] must be a table")
    raw_domains = trials.get("free_mail_domains", [])
    if not isinstance(raw_domains, list) or not all(isinstance(d, str) and _is_domain(d) for d in raw_domains):
        raise CatalogError("trials.free_mail_domains: expected a list of domain names")
    domains = frozenset(d.casefold() for d in raw_domains)
    rules = _mailbox_rules(trials.get("canonical", {}), domains)
    return Catalog(
        offers=offers,
        tier_features=tier_features,
        free_mail_domains=domains,
        mailbox_rules=rules,
        routing=_routing(data),
    )


_TAG_SEPARATORS = frozenset("+-")
_RULE_KEYS = frozenset({"alias_of", "ignore_dots", "tag_separator"})


def _is_domain(value: str) -> bool:
    labels = value.split(".")
    return len(labels) >= 2 and all(label and label.isascii() and label.replace("-", "").isalnum() for label in labels)


def _mailbox_rules(raw: Any, free_mail: frozenset[str]) -> dict[str, MailboxRule]:
    """``[trials.canonical]``: per free-mail domain, ``alias_of`` or ``ignore_dots`` / ``tag_separator``."""
    if not isinstance(raw, dict):
        raise CatalogError("[trials.canonical] must be a table of domain = { ... }")
    own: dict[str, MailboxRule] = {}
    aliases: dict[str, str] = {}
    for key, spec in raw.items():
        where = f"trials.canonical.{key!r}"
        domain = key.casefold()
        if domain in own or domain in aliases:
            raise CatalogError(f"{where}: given twice")
        if domain not in free_mail:
            raise CatalogError(f"{where}: not in trials.free_mail_domains")
        if not isinstance(spec, dict) or not spec:
            raise CatalogError(f"{where}: expected {{alias_of = ...}} or {{ignore_dots = ..., tag_separator = ...}}")
        unknown = set(spec) - _RULE_KEYS
        if unknown:
            raise CatalogError(f"{where}: unknown keys {sorted(unknown)}; expected some of {sorted(_RULE_KEYS)}")
        if "alias_of" in spec:
            target = spec["alias_of"]
            if len(spec) != 1:
                raise CatalogError(f"{where}: an alias takes its target's rules; give alias_of alone")
            if not isinstance(target, str) or target.casefold() not in free_mail or target.casefold() == domain:
                raise CatalogError(f"{where}.alias_of: expected another domain of trials.free_mail_domains")
            aliases[domain] = target.casefold()
            continue
        ignore_dots = spec.get("ignore_dots", False)
        separator = spec.get("tag_separator")
        if not isinstance(ignore_dots, bool):
            raise CatalogError(f"{where}.ignore_dots: expected true or false")
        if separator is not None and (not isinstance(separator, str) or separator not in _TAG_SEPARATORS):
            raise CatalogError(f"{where}.tag_separator: expected one of {sorted(_TAG_SEPARATORS)}")
        own[domain] = MailboxRule(domain=domain, ignore_dots=ignore_dots, tag_separator=separator)
    rules = dict(own)
    for alias, target in aliases.items():
        if target in aliases:
            raise CatalogError(f"trials.canonical.{alias!r}.alias_of: {target!r} is itself an alias")
        rules[alias] = own.get(target, MailboxRule(domain=target))
    return rules


@lru_cache(maxsize=8)
def load_catalog(path: Path | None = None) -> Catalog:
    """The catalog at ``path``, or the one shipped in the package."""
    try:
        if path is None:
            text = resources.files("licensing").joinpath("catalog.toml").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        return parse_catalog(tomllib.loads(text))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"cannot read the catalog {path or '(shipped)'}: {exc}") from None
