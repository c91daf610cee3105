"""KRR's "simple" strategy, re-implemented from its published defaults (``krr-simple``).

- CPU request: p95 of the usage samples over 14 days; no CPU limit.
- Memory request and limit: the peak over the window plus 15%; with
  ``use_oomkill_data``, at least the memory at the largest OOM kill plus 25%.
- Floors 10 millicores and 100 MiB; CPU rounded up to whole millicores.
- No answer below 100 samples or 3 hours of history.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from kcost.analyzers.rightsizing import stats
from kcost.analyzers.rightsizing.base import Sizing, Strategy, StrategySettings, replay_risk
from kcost.analyzers.rightsizing.history import UsageHistory
from kcost.analyzers.rightsizing.recommendation import NotEnoughData


class KrrSimpleSettings(StrategySettings):
    """KRR's settings for the simple strategy, at their defaults."""

    history_days: float = Field(14, gt=0, le=365, description="history_duration (336h).")
    cpu_step_millicores: int = Field(1, ge=1, le=1000, description="KRR rounds CPU up to whole millicores.")
    cpu_min_cores: float = Field(0.01, ge=0, le=64, description="cpu_min_value (10m).")
    memory_min_mib: float = Field(100, ge=0, le=65536, description="memory_min_value (100Mi).")
    cpu_percentile: float = Field(95, gt=0, le=100, description="Percentile of CPU usage used as the request.")
    memory_buffer_percentage: float = Field(15, ge=0, le=1000, description="Added to the peak memory usage.")
    points_required: int = Field(100, ge=1, le=1_000_000, description="Fewer samples give no recommendation.")
    min_history_hours: float = Field(3, ge=0, le=24 * 30, description="A shorter history gives no recommendation.")
    use_oomkill_data: bool = Field(False, description="Raise memory to the last OOM kill plus the OOM buffer.")
    oom_memory_buffer_percentage: float = Field(25, ge=0, le=1000, description="Added to the memory at an OOM kill.")


class KrrSimpleStrategy(Strategy[KrrSimpleSettings]):
    name = "krr-simple"
    settings_model = KrrSimpleSettings

    def size(self, window: UsageHistory) -> Sizing | NotEnoughData:
        s = self.settings
        history_hours = window.covered_s / stats.HOUR_S
        if window.sample_count < s.points_required or history_hours < s.min_history_hours:
            return NotEnoughData(
                reason=(
                    f"not enough data: {window.sample_count} samples over {history_hours:.1f}h; "
                    f"krr-simple needs {s.points_required} samples and {s.min_history_hours:g}h"
                ),
                sample_count=window.sample_count,
                history_hours=history_hours,
            )
        cpu_request = float(np.percentile(window.cpu_cores, s.cpu_percentile))
        memory = float(window.memory_bytes.max()) * (1 + s.memory_buffer_percentage / 100)
        if s.use_oomkill_data and window.oom_events:
            oom_peak = max(event.memory_bytes for event in window.oom_events)
            memory = max(memory, oom_peak * (1 + s.oom_memory_buffer_percentage / 100))
        confidence = min(history_hours / (s.history_days * 24), 1.0)
        return Sizing(
            cpu_request_cores=cpu_request,
            cpu_limit_cores=None,
            memory_request_bytes=memory,
            memory_limit_bytes=memory,
            confidence=confidence,
            risk_level=replay_risk(window, memory, memory, confidence),
            method=f"krr-simple(cpu p{s.cpu_percentile:g}, memory max+{s.memory_buffer_percentage:g}%)",
        )
