"""What a catalogue model costs us and what it sells for (issue 16, part 6).

Units everywhere: money in USD as :class:`~decimal.Decimal` (never floats),
prices in whole credits (``int``), margins as a fraction of the cost
(``Decimal("0.30")`` = 30 % over cost).

The cost is data, ``Offer.options["cost"]`` (the agreed schema of issue 16),
priced the way kie.ai prices it (kie.ai's API.md §2.8, kept as docs/kie.md
§2.8, for Veo, Runway, Kling, Wan and Nano Banana; §2.9 for the newer Market
models)::

    {"usd": "0.275",                              # one output with the base settings
     "by": {"resolution": {"1080p": "0.50"}},     # these values replace "usd" (one table; its
                                                  # key may join options: "mode|sound": {"4K|on": …})
     "times": {"sound": {"on": "2"}, "duration": {"10": "2"}},   # multipliers
     "per_second": "duration",                    # × int(params["duration"]); "usd" is then per second
     "per_chars": 1000,                           # × len(params["prompt"]) / 1000; "usd" is then
                                                  # per 1,000 characters of the text (speech, §2.9)
     "extend_usd": "0.30"}                        # one extend of a result; absent = no extend

The rule::

    cost_usd(params) = (by[p][params[p]] if given else usd) × Π times[q][params[q]]
                       (p may be "a|b", looked up as "<value of a>|<value of b>")
                       × int(params[per_second])  (when per_second is set)
                       × len(params["prompt"]) / per_chars  (when per_chars is set)
    price(params)    = max(1, ceil(cost_usd(params) × (1 + MIRSAM_PRICE_MARGIN) / MIRSAM_PRICE_CREDIT_USD))
    override         = max(1, ceil(price_credits × cost_usd(params) / cost_usd(defaults)))

``price_credits`` empty: the price is derived; set: staff priced the model's
default settings and every other setting (and the extend) scales with its
cost. A model whose default settings cost nothing (no ``cost`` at all) sells
every setting at the override, or at 1 credit without one; ``check_catalogue``
refuses such a model. Demo models carry a nominal cost like the real model
they stand in for, so their prices look like real ones; they cost us nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from .models import Offer

ZERO = Decimal(0)
ONE = Decimal(1)


def price_margin() -> Decimal:
    """``MIRSAM_PRICE_MARGIN``: what a derived price adds to the cost (0.30 = 30 %)."""
    return Decimal(str(settings.MIRSAM_PRICE_MARGIN))


def price_credit_usd() -> Decimal:
    """``MIRSAM_PRICE_CREDIT_USD``: the USD a credit is counted at when a price
    is derived (by default the cheapest seeded credit: 1,500 for $50.00)."""
    return Decimal(str(settings.MIRSAM_PRICE_CREDIT_USD))


def min_margin() -> Decimal:
    """``MIRSAM_MIN_MARGIN``: the least margin over cost ``check_catalogue``
    accepts at the cheapest credit anyone can buy."""
    return Decimal(str(settings.MIRSAM_MIN_MARGIN))


def _usd(value: Any) -> Decimal:
    """A cost value from the catalogue (a decimal string, or a JSON number) as Decimal."""
    return Decimal(str(value))


def _rule(offer: Offer) -> dict[str, Any]:
    rule = offer.options.get("cost")
    return rule if isinstance(rule, dict) else {}


def settings_of(offer: Offer, params: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The value of each of ``offer``'s options that ``params`` picks, as
    text; a missing value, or one the model does not offer, is the default
    (submit refuses such a value before anything is priced, so this only
    keeps a live price from failing). Keys other than the options
    (``prompt``, ``outputs``) are left out."""
    chosen: dict[str, str] = {}
    for name, spec in offer.param_specs.items():
        value = None if params is None else params.get(name)
        text = "" if value is None else str(value)
        chosen[name] = text if text in spec["choices"] else spec["default"]
    return chosen


def cost_usd(offer: Offer, params: Mapping[str, Any] | None = None) -> Decimal:
    """USD one output of ``offer`` costs us with ``params`` (defaults for what
    is missing), by the rule in ``options["cost"]``; ``0`` without a rule."""
    rule = _rule(offer)
    if "usd" not in rule and "by" not in rule:
        return ZERO
    chosen = settings_of(offer, params)
    base = _usd(rule.get("usd", 0))
    for name, table in (rule.get("by") or {}).items():
        key = "|".join(chosen.get(part, "") for part in name.split("|"))
        if key in (table or {}):
            base = _usd(table[key])
    for name, table in (rule.get("times") or {}).items():
        if chosen.get(name) in (table or {}):
            base *= _usd(table[chosen[name]])
    if per_second := rule.get("per_second"):
        base *= _seconds(chosen, params, str(per_second))
    if per_chars := rule.get("per_chars"):
        base *= Decimal(_characters(params, int(per_chars))) / Decimal(int(per_chars))
    return base


def _characters(params: Mapping[str, Any] | None, unit: int) -> int:
    """How many characters of text a per-character cost counts: the
    prompt's, as Python counts them (one per Unicode code point, so an
    Arabic letter or a diacritic is one, like ElevenLabs counts them); one
    ``unit`` when no text is given, so that a price table shows the price of
    ``unit`` characters."""
    text = "" if params is None else str(params.get("prompt") or "")
    return len(text) if text else unit


def per_characters(offer: Offer) -> int | None:
    """The number of characters ``offer``'s cost is counted per (1,000 for
    ElevenLabs speech, §2.9), or ``None`` for a model not priced by its text."""
    value = _rule(offer).get("per_chars")
    return int(value) if value else None


def _seconds(chosen: Mapping[str, str], params: Mapping[str, Any] | None, name: str) -> int:
    """The whole seconds a per-second cost multiplies by: the option ``name``,
    or for a tool the source's duration the job carries (``params[name]``,
    not an option of the tool); 1 when neither is known, so that a price
    table shows the price of one second."""
    value = chosen.get(name)
    if value is None and params is not None:
        value = params.get(name)
    text = str(value or "").strip()
    return int(text) if text.isdigit() else 1


def per_source_second(offer: Offer) -> bool:
    """Whether ``offer`` is priced per second of something that is not one of
    its options (a video tool: its source's seconds), so that a price table
    lists the price of one second."""
    name = _rule(offer).get("per_second")
    return bool(name) and str(name) not in offer.param_specs


def extend_cost_usd(offer: Offer) -> Decimal | None:
    """USD one extend of a result costs us (``cost.extend_usd``); ``None``
    when the model cannot be extended."""
    value = _rule(offer).get("extend_usd")
    return None if value in (None, "") else _usd(value)


def job_output_cost_usd(offer: Offer, params: Mapping[str, Any]) -> Decimal:
    """The catalogue's estimate, in USD, of one delivered output of a job of
    ``offer`` with ``params`` (the job's own): the extend's cost when the
    job extends a result (``params["extend_task_id"]``), else
    :func:`cost_usd`. What the provider billed, when it says, is the real
    cost (shared/kie/API.md §2.9 notes)."""
    if params.get("extend_task_id"):
        extend = extend_cost_usd(offer)
        if extend is not None:
            return extend
    return cost_usd(offer, params)


def _ceil(value: Decimal) -> int:
    return max(1, int(value.to_integral_value(rounding=ROUND_CEILING)))


def derived_price(cost: Decimal) -> int:
    """Whole credits for an output costing ``cost`` USD: ``max(1, ceil(cost ×
    (1 + MIRSAM_PRICE_MARGIN) / MIRSAM_PRICE_CREDIT_USD))``."""
    return _ceil(cost * (ONE + price_margin()) / price_credit_usd())


def _price_of_cost(offer: Offer, cost: Decimal) -> int:
    """Credits for something of ``offer`` costing ``cost``: derived, or the
    override scaled by ``cost`` / the cost of the default settings."""
    if offer.price_credits is None:
        return derived_price(cost)
    default_cost = cost_usd(offer)
    if default_cost <= 0:
        return max(1, offer.price_credits)
    return _ceil(Decimal(offer.price_credits) * cost / default_cost)


def unit_price(offer: Offer, params: Mapping[str, Any] | None = None) -> int:
    """Whole credits for one output of ``offer`` with ``params``."""
    return _price_of_cost(offer, cost_usd(offer, params))


def extend_price(offer: Offer) -> int | None:
    """Whole credits for one extend of a result of ``offer``; ``None`` when
    the model has no ``cost.extend_usd``."""
    cost = extend_cost_usd(offer)
    return None if cost is None else _price_of_cost(offer, cost)


def margin(*, price_credits: int, cost: Decimal, credit_usd: Decimal) -> Decimal | None:
    """The margin over cost ``price_credits`` leaves when a credit was bought
    for ``credit_usd``: ``price × credit_usd / cost − 1`` (0.30 = 30 % over
    cost); ``None`` for something that costs nothing."""
    if cost <= 0:
        return None
    return Decimal(price_credits) * credit_usd / cost - ONE


def priced_params(offer: Offer) -> list[str]:
    """The options of ``offer`` its cost depends on, in display order."""
    rule = _rule(offer)
    named = {part for name in (rule.get("by") or {}) for part in name.split("|")} | set(rule.get("times") or {})
    if rule.get("per_second"):
        named.add(str(rule["per_second"]))
    return [name for name in offer.param_specs if name in named]


def combinations(offer: Offer) -> list[dict[str, str]]:
    """Every combination of ``offer``'s option values it offers (the product
    of the choices, in display order, less ``options["forbid"]``)."""
    specs = offer.param_specs
    names = list(specs)
    found = []
    for values in itertools.product(*(specs[name]["choices"] for name in names)):
        combo = dict(zip(names, values, strict=True))
        if offer.forbidden(combo) is None:
            found.append(combo)
    return found


def priced_combinations(offer: Offer) -> list[dict[str, str]]:
    """The offered combinations of only the options that change the cost
    (:func:`priced_params`), each once: what a price table lists. A value
    pair appears when at least one offered combination has it, so ``forbid``
    on any option is respected."""
    names = priced_params(offer)
    seen: list[dict[str, str]] = []
    for combo in combinations(offer):
        projected = {name: combo[name] for name in names}
        if projected not in seen:
            seen.append(projected)
    return seen


@dataclass(frozen=True)
class PriceRow:
    """One line of a price table: ``settings`` (option → value; empty for a
    model whose options do not change its price), ``extend`` (the row is one
    extend of a result), ``cost_usd`` (USD), ``price_credits`` (whole
    credits), and the margin over cost at a given credit value
    (:func:`margin`)."""

    settings: dict[str, str]
    extend: bool
    cost_usd: Decimal
    price_credits: int

    def margin_at(self, credit_usd: Decimal | None) -> Decimal | None:
        if credit_usd is None:
            return None
        return margin(price_credits=self.price_credits, cost=self.cost_usd, credit_usd=credit_usd)

    def revenue_at(self, credit_usd: Decimal) -> Decimal:
        """USD the price brings in when its credits were bought at ``credit_usd``."""
        return Decimal(self.price_credits) * credit_usd

    def below(self, *, credit_usd: Decimal, least_margin: Decimal) -> bool:
        """Sells below ``cost × (1 + least_margin)`` at ``credit_usd`` a credit
        (a row that costs nothing never does)."""
        return self.cost_usd > 0 and self.revenue_at(credit_usd) < self.cost_usd * (ONE + least_margin)

    @property
    def label(self) -> str:
        """The settings as text, ``duration=8 resolution=720p``; "extend" for
        the extend row, "-" for a model with one price."""
        if self.extend:
            return "extend"
        return " ".join(f"{name}={value}" for name, value in self.settings.items()) or "-"


def price_table(offer: Offer) -> list[PriceRow]:
    """Every price ``offer`` sells at: one row per :func:`priced_combinations`
    entry, then the extend when the model has one."""
    rows = [
        PriceRow(
            settings=combo,
            extend=False,
            cost_usd=cost_usd(offer, combo),
            price_credits=unit_price(offer, combo),
        )
        for combo in priced_combinations(offer)
    ]
    extend_cost = extend_cost_usd(offer)
    extend_credits = extend_price(offer)
    if extend_cost is not None and extend_credits is not None:
        rows.append(PriceRow(settings={}, extend=True, cost_usd=extend_cost, price_credits=extend_credits))
    return rows


def _is_usd(value: Any) -> bool:
    try:
        return not isinstance(value, bool) and _usd(value).is_finite() and _usd(value) >= 0
    except (InvalidOperation, ValueError):
        return False


def cost_problems(options: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``options["cost"]`` (in the active language, for
    staff and the catalogue check), empty when it can be priced: every amount
    a decimal ≥ 0, ``by`` for one option at most, tables of value → amount,
    ``per_second`` naming an option whose values are whole numbers."""
    rule = options.get("cost")
    if rule is None:
        return []
    if not isinstance(rule, dict):
        return [_("cost must be an object.")]
    problems = []
    for key in ("usd", "extend_usd"):
        if key in rule and not _is_usd(rule[key]):
            problems.append(_('cost.%(key)s must be an amount of USD such as "0.30".') % {"key": key})
    for key in ("by", "times"):
        tables = rule.get(key) or {}
        if not isinstance(tables, dict):
            problems.append(_("cost.%(key)s must map options to their values' amounts.") % {"key": key})
            continue
        for name, table in tables.items():
            if not isinstance(table, dict) or not all(_is_usd(v) for v in table.values()):
                problems.append(
                    _("cost.%(key)s.%(name)s must map each value to an amount.") % {"key": key, "name": name}
                )
    if isinstance(rule.get("by"), dict) and len(rule["by"]) > 1:
        problems.append(_("cost.by may replace the base price for one option only."))
    if per_second := rule.get("per_second"):
        spec = (options.get("params") or {}).get(per_second) or {}
        choices = [str(c) for c in spec.get("choices") or []]
        # A tool priced by its source's seconds, a speaking model by its speech's.
        from_source = not spec and ("tool" in options or "speaks" in options)
        if not from_source and (not choices or not all(c.isdigit() for c in choices)):
            problems.append(
                _("cost.per_second names %(name)s, which must be an option of whole seconds.") % {"name": per_second}
            )
    per_chars = rule.get("per_chars")
    if per_chars is not None and (isinstance(per_chars, bool) or not isinstance(per_chars, int) or per_chars <= 0):
        problems.append(_("cost.per_chars must be a whole number of characters such as 1000."))
    return problems
