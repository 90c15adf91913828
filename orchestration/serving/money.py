"""How the API writes money: a JSON string with the column's fixed scale, never a float.

The marts hold money as decimal(18,2) (shop amounts, budgets) and decimal(18,6) (ad money,
CPC, ROAS); both drivers hand the API `Decimal`s that carry the column's scale. A JSON number
would go through a client's binary float (0.1 + 0.2), so the value is the decimal's own digits
in a string: "12.50", "0.003500". A listing declares a money column with `Amount` or `Micros`,
which the OpenAPI response model shows as a string of that pattern.
"""

from decimal import Decimal
from typing import Annotated

from pydantic import Field

AMOUNT_SCALE, MICROS_SCALE = 2, 6


def _money(scale: int, example: str, what: str):
    return Annotated[
        str,
        Field(
            pattern=rf"^-?\d+\.\d{{{scale}}}$",
            examples=[example],
            description=f"{what}: a decimal with exactly {scale} decimals, as a JSON string",
            json_schema_extra={"format": "decimal"},
        ),
    ]


Amount = _money(AMOUNT_SCALE, "12.50", "Amount in the row's currency (EUR unless a currency column says)")
Micros = _money(MICROS_SCALE, "0.003500", "Ad money or a money ratio (CPC, ROAS)")


def decimal_text(value: Decimal) -> str:
    """The decimal's digits at its own scale, never in exponent form (Decimal('0E-6') is
    "0.000000"); a NaN or infinity is no amount and raises."""
    if not value.is_finite():
        raise ValueError(f"not an amount: {value}")
    return format(value, "f")
