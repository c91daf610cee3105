"""The operator's configuration: kcost's one ``Config`` (``kcost.config``), under the name the operator uses."""

from __future__ import annotations

from kcost.config import Config as OperatorConfig

__all__ = ["OperatorConfig"]
