"""Number formatting for the analytics page: money, rates and latencies, with a dash for "no data"."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()

NO_DATA = "—"


@register.filter
def money(value: Decimal | float | None, places: int | None = None) -> str:
    """Dollars. Without `places`, as many as the amount needs ($12.30, $0.0420, $0.000150);
    with them, fixed, so a table column lines up ("<$0.0001" for what would round to zero)."""
    if value is None:
        return NO_DATA
    amount = Decimal(str(value))
    size = abs(amount)
    if places is None:
        places = 2 if size >= 1 or size == 0 else 4 if size >= Decimal("0.01") else 6
    places = int(places)
    smallest = Decimal(1).scaleb(-places)
    if 0 < size < smallest / 2:
        return f"<${smallest}"
    text = f"${size:,.{places}f}"
    return f"−{text}" if amount < 0 else text


@register.filter
def percent(value: float | None, places: int = 1) -> str:
    """A 0–1 fraction as a percentage; None (nothing to divide by) as a dash."""
    if value is None:
        return NO_DATA
    return f"{value * 100:.{int(places)}f}%"


@register.filter
def times(value: float | None) -> str:
    """A ratio as a multiplier: 3.5 → "3.5×"."""
    if value is None:
        return NO_DATA
    return f"{value:,.1f}×"


@register.filter
def ms(value: float | None) -> str:
    if value is None:
        return NO_DATA
    return f"{value:,.0f} ms"
