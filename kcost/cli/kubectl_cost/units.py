"""How ``kubectl cost`` writes numbers a person reads: CPU, memory, money, trends."""

from __future__ import annotations

from kcost.api.units import GIB, MIB

_BARS = "▁▂▃▄▅▆▇█"


def cores(value: float | None) -> str:
    """CPU as Kubernetes writes it: millicores below one core (``125m``), else cores with two decimals."""
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f}m"
    return f"{value:.2f}"


def memory(value_bytes: float | None) -> str:
    """Memory in GiB (two decimals) from one GiB up, else in MiB (``381Mi``; one decimal below 10)."""
    if value_bytes is None:
        return "-"
    if value_bytes >= GIB:
        return f"{value_bytes / GIB:.2f}Gi"
    mib = value_bytes / MIB
    return f"{mib:.1f}Mi" if mib < 10 else f"{mib:.0f}Mi"


def money(value: float) -> str:
    """An amount with two decimals and thousands separators."""
    return f"{value:,.2f}"


def sparkline(values: list[float]) -> str:
    """One bar per value, scaled to the largest."""
    if not values:
        return ""
    top = max(values) or 1.0
    return "".join(_BARS[min(len(_BARS) - 1, int(v / top * (len(_BARS) - 1)))] for v in values)
