"""Argument checks shared by the whole package (numpy only): each returns the value in a
canonical type or raises :class:`~edgepose.errors.InputError` naming the argument."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from edgepose.errors import InputError
from edgepose.geometry import MAX_WARP_SIDE

__all__ = ["check_hw", "check_number", "is_integral"]


def is_integral(value: Any) -> bool:
    """A real number (not a bool) with an integral value: 3, 3.0, np.int64(3)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return False
    if isinstance(value, numbers.Integral):
        return True
    return math.isfinite(value) and float(value) == int(value)


def check_hw(value: Any, name: str) -> tuple[int, int]:
    """``value`` as (height, width) of two integers in 1..MAX_WARP_SIDE, or InputError naming ``name``."""
    ok = (not isinstance(value, (str, bytes, Mapping)) and hasattr(value, "__len__") and len(value) == 2
          and all(is_integral(v) for v in value))
    if not ok or not all(0 < int(v) <= MAX_WARP_SIDE for v in value):
        raise InputError(f"{name} must be (height, width), two integers in 1..{MAX_WARP_SIDE}; got {value!r}")
    return int(value[0]), int(value[1])


def check_number(value: Any, name: str, *, low: float = 0.0, high: float = math.inf,
                 low_inclusive: bool = False, high_inclusive: bool = False) -> float:
    """``value`` as a float in the given range (finite), or InputError naming ``name``."""
    x = math.nan
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        try:
            x = float(value)
        except OverflowError:  # an integer beyond float range
            x = math.inf
    above = low <= x if low_inclusive else low < x
    below = x <= high if high_inclusive else x < high
    if not (math.isfinite(x) and above and below):
        lo, hi = "[" if low_inclusive else "(", "]" if high_inclusive else ")"
        raise InputError(f"{name} must be a finite number in {lo}{low:g}, {high:g}{hi}; got {value!r}")
    return x
