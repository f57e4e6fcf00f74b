"""Spatial displacement: the weighted displacement quotient (Bowers & Johnson 2003).

With ``R`` the treated (response) area, ``D`` the buffer around it, ``C`` the controls,
and ``b``/``a`` before and after the start::

    WDQ = (Da/Ca - Db/Cb) / (Ra/Ca - Rb/Cb)
    total net effect = [Rb * Ca/Cb - Ra] + [Db * Ca/Cb - Da]

The denominator is the treated area's change relative to the controls (negative when
the intervention worked); the numerator the buffer's. The total net effect counts the
offences (or harm) prevented in treated area and buffer together, against what the
control trend predicts (positive = fewer than expected).

Examples
--------
>>> from pli.evaluate.displacement import weighted_displacement
>>> w = weighted_displacement(r_before=100, r_after=70, d_before=100, d_after=120, c_before=1000, c_after=1000)
>>> round(w.wdq, 3), round(w.total_net_effect, 1), w.reading.split(":")[0]
(-0.667, 10.0, 'displacement smaller than the direct effect')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Displacement", "weighted_displacement", "read_wdq"]


@dataclass(frozen=True)
class Displacement:
    """WDQ, its two parts, total net effect and a reading in words."""

    wdq: float
    buffer_change: float
    success: float
    total_net_effect: float
    reading: str


def read_wdq(wdq: float, success: float) -> str:
    """Bowers & Johnson's reading of a WDQ value, in words."""
    if not math.isfinite(success) or success >= 0:
        return ("not applicable: crime in the treated area did not fall relative to the controls, "
                "so there is no effect to displace")
    if not math.isfinite(wdq):
        return "not defined"
    if wdq > 1:
        return ("diffusion of benefits larger than the direct effect: "
                "the buffer improved even more than the treated area")
    if wdq > 0:
        return "diffusion of benefits: the buffer also improved relative to the controls"
    if wdq == 0:
        return "no displacement and no diffusion"
    if wdq >= -1:
        return ("displacement smaller than the direct effect: some crime may have moved to the buffer, "
                "but the net effect is still a reduction")
    return "displacement larger than the direct effect: the buffer rose by more than the treated area fell"


def weighted_displacement(*, r_before: float, r_after: float, d_before: float, d_after: float,
                          c_before: float, c_after: float) -> Displacement:
    """WDQ and total net effect from before/after totals of treated, buffer and control areas."""
    if min(c_before, c_after) <= 0:
        raise ValueError("weighted_displacement: the control totals must be positive before and after")
    success = r_after / c_after - r_before / c_before
    buffer_change = d_after / c_after - d_before / c_before
    wdq = buffer_change / success if success != 0 else float("nan")
    scale = c_after / c_before
    tne = (r_before * scale - r_after) + (d_before * scale - d_after)
    return Displacement(float(wdq), float(buffer_change), float(success), float(tne), read_wdq(wdq, success))
