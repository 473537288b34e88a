"""Money amounts between major units (what staff type: 4.99 USD) and Stripe's
minor units (what Stripe takes and we store: 499).

Stripe's rule (https://docs.stripe.com/currencies, "Zero-decimal currencies"
and "Three-decimal currencies"): most currencies have two decimals; the ones
below have none or three. Three-decimal amounts sent to Stripe must end in 0
for charges; refunds of them follow the charge.
"""

from __future__ import annotations

from decimal import Decimal

ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)  # Stripe's list, docs.stripe.com/currencies#zero-decimal
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())  # docs.stripe.com/currencies#three-decimal


def decimals(currency: str) -> int:
    """Digits after the point of ``currency`` (ISO 4217 code, any case): 0, 2 or 3."""
    code = currency.lower()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def to_major(amount: int, currency: str) -> Decimal:
    """``amount`` minor units of ``currency`` in major units: 499 usd → Decimal("4.99")."""
    return Decimal(amount).scaleb(-decimals(currency))


def to_minor(amount: Decimal, currency: str) -> int:
    """Major units of ``currency`` in minor units: Decimal("4.99") usd → 499.
    Raises ValueError when ``amount`` has more decimals than the currency."""
    minor = amount.scaleb(decimals(currency))
    if minor != minor.to_integral_value():
        raise ValueError(f"{amount} has more than {decimals(currency)} decimals for {currency}")
    return int(minor)


def format_money(amount: int, currency: str) -> str:
    """``amount`` minor units as text for staff: 499, "usd" → "4.99 USD"."""
    return f"{to_major(amount, currency):.{decimals(currency)}f} {currency.upper()}"
