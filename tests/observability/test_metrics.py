"""The /metrics endpoint every process serves, and the history writer's counts on it."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from kcost.devcluster import processes
from kcost.observability import metrics


async def test_metrics_are_served_with_the_history_writer_counts() -> None:
    counts = {"written": 7, "retried": 2, "dropped": 1, "pending": 3}
    collector = metrics.HistoryWriterCollector(
        lambda: (counts["written"], counts["retried"], counts["dropped"], counts["pending"])
    )
    metrics.add_collector(collector)
    port = processes.free_port()
    try:
        async with metrics.serve(port, host="127.0.0.1") as served, aiohttp.ClientSession() as session:
            assert served == port
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert response.status == 200
                text = await response.text()
    finally:
        metrics.remove_collector(collector)
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples[("kcost_history_writes_total", (("result", "dropped"),))] == 1
    assert samples[("kcost_history_writes_total", (("result", "written"),))] == 7
    assert samples[("kcost_history_queue_rows", ())] == 3
    assert "# TYPE kcost_analysis_duration_seconds histogram" in text


async def test_no_port_means_no_server() -> None:
    async with metrics.serve(None) as served:
        assert served is None
