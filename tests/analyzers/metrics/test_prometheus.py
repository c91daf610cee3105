"""The Prometheus client against a local HTTP server that answers like Prometheus (or fails like one)."""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import numpy as np
import pytest
from aiohttp import web

from kcost.analyzers.metrics.prometheus import (
    Credentials,
    PrometheusClient,
    PrometheusError,
    PrometheusUnavailable,
    RangeSeries,
    _matrix_answer,
)

VECTOR = {
    "status": "success",
    "data": {"resultType": "vector", "result": [{"metric": {"pod": "a"}, "value": [1, "2.5"]}]},
}

Handler = Callable[[web.Request], Any]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Any]]:
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_get("/api/v1/query", handler)
        app.router.add_get("/api/v1/query_range", handler)
        app.router.add_get("/api/v1/series", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_retries_throttling_and_5xx_then_answers(serve: Any) -> None:
    calls = {"n": 0}

    async def flaky(request: web.Request) -> web.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return web.Response(status=429)
        if calls["n"] == 2:
            return web.Response(status=503)
        return web.json_response(VECTOR)

    client = PrometheusClient(await serve(flaky), attempts=3)
    assert await client.scalar("up") == 2.5
    assert calls["n"] == 3


async def test_persistent_errors_slow_answers_and_junk_are_clear_errors(serve: Any) -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500, text="oops")

    with pytest.raises(PrometheusUnavailable, match="HTTP 500"):
        await PrometheusClient(await serve(broken), attempts=2).query("up")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response(VECTOR)

    with pytest.raises(PrometheusUnavailable, match=r"timed out after 0.3 s \(spec.prometheus.timeoutSeconds\)"):
        await PrometheusClient(await serve(slow), timeout_s=0.3, attempts=1).query("up")

    async def junk(request: web.Request) -> web.Response:
        return web.Response(text="<html>login</html>")

    with pytest.raises(PrometheusError, match="not a Prometheus API answer"):
        await PrometheusClient(await serve(junk), attempts=1).query("up")

    async def refused(request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}, status=400
        )

    with pytest.raises(PrometheusError, match=re.escape("refused 'up{': parse error at char 3")):
        await PrometheusClient(await serve(refused), attempts=1).query("up{")

    with pytest.raises(PrometheusUnavailable, match=re.escape("127.0.0.1:1")):
        await PrometheusClient("http://127.0.0.1:1", attempts=1).query("up")


async def test_credentials_are_sent_and_never_shown(serve: Any) -> None:
    seen: dict[str, str] = {}

    async def check(request: web.Request) -> web.Response:
        seen["auth"] = request.headers.get("Authorization", "")
        seen["query"] = request.query.get("query", "")
        return web.json_response({"status": "success", "data": {"resultType": "matrix", "result": []}})

    url = await serve(check)
    token = Credentials(bearer_token="s3cret-token")
    client = PrometheusClient(url, credentials=token)
    assert await client.query_range("rate(x[5m])", 0, 600, 60) == []
    assert seen == {"auth": "Bearer s3cret-token", "query": "rate(x[5m])"}
    assert "s3cret" not in repr(client)
    assert "s3cret" not in repr(token)
    basic = PrometheusClient(url, credentials=Credentials(basic_auth=("kcost", "pw")))
    await basic.query("up")
    assert seen["auth"].startswith("Basic ")
    assert client.requests == 1
    assert json.dumps(VECTOR)  # the fixture payload is plain JSON


async def test_range_answers_decode_to_arrays_with_non_finite_samples_as_nan(serve: Any) -> None:
    async def matrix(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "success",
                "data": {
                    "resultType": "matrix",
                    "result": [
                        {
                            "metric": {"pod": "web-1", "container": "app"},
                            "values": [
                                [1700000000, "0.25"],
                                [1700000060.5, "NaN"],
                                [1700000120, "+Inf"],
                                [1700000180, "1e3"],
                            ],
                        },
                        {"metric": {"pod": "web-2"}, "values": []},
                    ],
                },
            }
        )

    series = await PrometheusClient(await serve(matrix)).query_range("rate(x[5m])", 0, 600, 60)
    assert [s.labels for s in series] == [{"pod": "web-1", "container": "app"}, {"pod": "web-2"}]
    first = series[0].points
    assert first.shape == (4, 2)
    assert first[:, 0].tolist() == [1700000000, 1700000060.5, 1700000120, 1700000180]
    assert first[0, 1] == 0.25
    assert first[3, 1] == 1000.0
    assert all(math.isnan(v) for v in first[1:3, 1])
    assert series[1].points.shape == (0, 2)


@pytest.mark.parametrize("spelling", ["NaN", "+Inf", "-Inf"])
def test_each_non_finite_spelling_alone_in_an_answer_decodes_as_nan(spelling: str) -> None:
    # The decoder looks for non-finite samples only in answers that have their letters: each alone must be found.
    raw = (
        b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":'
        b'[[1,"2.5e-3"],[2,"%s"]]}]}}' % spelling.encode()
    )
    _, _, series = _matrix_answer(raw)
    assert series[0].points[0].tolist() == [1.0, 0.0025]
    assert series[0].points[1, 0] == 2.0
    assert math.isnan(series[0].points[1, 1])


def test_a_range_answer_decodes_into_one_float_array_per_series_with_no_python_float_per_point() -> None:
    raw = json.dumps(
        {
            "status": "success",
            "data": {"resultType": "matrix", "result": [{"metric": {"pod": "a"}, "values": [[1, "0.5"], [2, "1"]]}]},
        }
    ).encode()
    status, _, series = _matrix_answer(raw)
    assert status == "success"
    assert isinstance(series[0], RangeSeries)
    assert isinstance(series[0].points, np.ndarray)
    assert series[0].points.dtype == np.float64
    assert series[0].points.tolist() == [[1.0, 0.5], [2.0, 1.0]]


def test_values_parse_to_the_same_bits_as_json_numbers_do() -> None:
    """A series decoded on its own reads every value as the whole answer's decoding did: the same double, to the bit."""
    rng = random.Random(15)
    texts = [repr(rng.random() * 10 ** rng.randrange(-8, 13)) for _ in range(4000)]
    texts += [f"{rng.random() * 10 ** rng.randrange(0, 9):.{rng.randrange(1, 22)}f}" for _ in range(4000)]
    texts += [str(rng.randrange(1, 2**63)) for _ in range(1000)] + ["1e3", "-2.5E-7", "0", "123456789012345678901234.5"]
    pairs = [[1_700_000_000 + 0.5 * i, text] for i, text in enumerate(texts)]
    raw = json.dumps({"status": "success", "data": {"result": [{"metric": {}, "values": pairs}]}}).encode()
    # How the JSON decoder read them (numbers in strings, the lax mode).
    as_json = msgspec.json.decode(json.dumps(pairs).encode(), type=list[tuple[float, float]], strict=False)
    expected = np.array(as_json, dtype=np.float64)
    points = _matrix_answer(raw)[2][0].points
    assert np.array_equal(points.view(np.int64), expected.view(np.int64))


@pytest.mark.parametrize(
    "values",
    [[["x", 1]], [[1, "2", "3"], [4]], [[1, "2"], 3], [[1, "2"], []], "x", 5, [[1, "2"], [3, "4,5"]]],
)
async def test_range_answers_not_of_time_value_pairs_are_clear_errors(serve: Any, values: Any) -> None:
    async def wrong_shape(request: web.Request) -> web.Response:
        return web.json_response({"status": "success", "data": {"result": [{"metric": {}, "values": values}]}})

    with pytest.raises(PrometheusError, match="not a Prometheus API answer"):
        await PrometheusClient(await serve(wrong_shape), attempts=1).query_range("x", 0, 60, 60)


async def test_range_answers_that_are_junk_or_refusals_are_clear_errors(serve: Any) -> None:
    async def junk(request: web.Request) -> web.Response:
        return web.Response(body=b'{"status": "success", "data": {"result": [{"metric": {}, "values": [[1, "2"]')

    with pytest.raises(PrometheusError, match="not a Prometheus API answer"):
        await PrometheusClient(await serve(junk), attempts=1).query_range("x", 0, 60, 60)

    async def refused(request: web.Request) -> web.Response:
        return web.json_response({"status": "error", "errorType": "execution", "error": "too many samples"}, status=422)

    with pytest.raises(PrometheusError, match=re.escape("refused 'x': too many samples")):
        await PrometheusClient(await serve(refused), attempts=1).query_range("x", 0, 60, 60)


async def test_every_request_is_counted_by_endpoint_retries_included(serve: Any) -> None:
    calls = {"n": 0}

    async def answer(request: web.Request) -> web.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return web.Response(status=503)
        if request.path.endswith("/series"):
            return web.json_response({"status": "success", "data": [{"__name__": "up"}]})
        if request.path.endswith("/query_range"):
            return web.json_response({"status": "success", "data": {"resultType": "matrix", "result": []}})
        return web.json_response(VECTOR)

    client = PrometheusClient(await serve(answer), attempts=2)
    await client.query("up")  # a 503, then the answer: two requests
    await client.query_range("up", 0, 60, 60)
    await client.series(["up"], 0, 60)
    assert dict(client.requests_by_endpoint) == {"query": 2, "query_range": 1, "series": 1}
    assert client.requests == calls["n"] == 4


async def test_answers_come_uncompressed_unless_asked_for_gzip(serve: Any) -> None:
    encodings: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        encodings.append(request.headers.get("Accept-Encoding", ""))
        response = web.json_response({"status": "success", "data": {"resultType": "matrix", "result": []}})
        response.enable_compression()  # aiohttp compresses only when the client accepts it
        return response

    url = await serve(answer)
    assert await PrometheusClient(url).query_range("rate(x[5m])", 0, 600, 60) == []
    assert await PrometheusClient(url, compressed_answers=True).query_range("rate(x[5m])", 0, 600, 60) == []
    assert encodings == ["identity", "gzip"]
