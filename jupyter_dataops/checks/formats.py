"""Named formats for ``valid format NAME``.

Each format is defined precisely, so results agree with other tools:

=============  ==============================================================================
name           a non-null value is valid when ...
=============  ==============================================================================
``email``      it is a "valid e-mail address" of the HTML Living Standard (local part of
               ``A-Z a-z 0-9 .!#$%&'*+/=?^_`{|}~-``, ``@``, DNS labels of at most 63 letters,
               digits and inner hyphens) with at least one dot in the domain
``uuid``       it is 32 hex digits in the 8-4-4-4-12 grouping (any version, either case)
``date``       it is an ISO 8601 calendar date ``YYYY-MM-DD`` that exists (no 2023-02-30)
``integer``    it is an optional sign followed by ASCII digits only
``decimal``    it is an optional sign, digits with an optional ``.`` fraction, optional exponent
``phone_e164`` it is an E.164 phone number: ``+``, a non-zero digit, then 1 to 14 digits
``ipv4``       it is four dot-separated decimal numbers 0-255 without leading zeros
=============  ==============================================================================
"""

from __future__ import annotations

import polars as pl

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"

FORMAT_PATTERNS: dict[str, str] = {
    "email": r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@" + _LABEL + r"(?:\." + _LABEL + r")+$",
    "uuid": r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$",
    "date": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "integer": r"^[+-]?[0-9]+$",
    "decimal": r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$",
    "phone_e164": r"^\+[1-9][0-9]{1,14}$",
    "ipv4": r"^" + _OCTET + r"(?:\." + _OCTET + r"){3}$",
}

FORMATS: tuple[str, ...] = tuple(FORMAT_PATTERNS)


def format_valid(expr: pl.Expr, name: str) -> pl.Expr:
    """An expression true where the (string) value has format ``name``."""
    ok = expr.str.contains(FORMAT_PATTERNS[name])
    if name == "date":
        # The shape is not enough: the date must exist.
        ok = ok & expr.str.to_date("%Y-%m-%d", strict=False).is_not_null()
    return ok
