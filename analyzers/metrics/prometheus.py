"""An async Prometheus HTTP API client: auth and TLS from Secrets, timeouts, retries with backoff.

Thanos, Mimir and VictoriaMetrics speak the same API. Credentials are passed in
already read (see ``credentials_from_secrets``) and never logged: errors carry the
URL and the query, never headers.
"""

from __future__ import annotations

import itertools
import json
import math
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec
import numpy as np
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from kcost.api.v1alpha1.profile import ClusterCostProfile, PrometheusSpec
from kcost.kube.client import KubeClient
from kcost.observability import metrics, tracing


class PrometheusError(Exception):
    """The query could not be answered; the message says which Prometheus and why."""


class PrometheusUnavailable(PrometheusError):  # noqa: N818 - reads as the condition it names
    """Network error, timeout or 5xx: worth retrying later."""


class PrometheusCredentialsError(PrometheusError):
    """A Secret the profile's ``spec.prometheus`` points at cannot be read: the user's to fix."""


Params = list[tuple[str, str]]
# A decoder of one answer: (status, error, data); raises ValueError or msgspec.DecodeError on junk.
Decode = Callable[[bytes], tuple[str | None, str | None, Any]]


def _json_answer(raw: bytes) -> tuple[str | None, str | None, Any]:
    body = json.loads(raw)
    if not isinstance(body, dict):
        return None, str(body)[:200], None
    return body.get("status"), body.get("error"), body.get("data")


@dataclass(frozen=True)
class RangeSeries:
    labels: dict[str, str]
    points: np.ndarray[Any, np.dtype[np.float64]]  # N×2: Unix seconds, value


class _Series(msgspec.Struct):
    metric: dict[str, str | None]
    # Left as JSON text and decoded a series at a time: the whole answer's points as Python
    # tuples and floats (~110 bytes each) took 40 MB a namespace; one series' take 200 kB.
    values: msgspec.Raw = msgspec.Raw(b"[]")


class _Matrix(msgspec.Struct):
    result: list[_Series] = []


class _MatrixAnswer(msgspec.Struct):
    status: str | None = None
    error: str | None = None
    data: _Matrix | None = None


_MATRIX_DECODER = msgspec.json.Decoder(_MatrixAnswer, strict=False)
_POINTS_DECODER = msgspec.json.Decoder(list[tuple[float, float | None]], strict=False)


def _points(values: bytes) -> np.ndarray[Any, np.dtype[np.float64]]:
    """A series' ``[[time, "value"], …]`` as an N×2 array, non-finite values as NaN.

    Raises msgspec.DecodeError when it is not a list of (time, value) pairs.
    """
    # Prometheus writes non-finite samples as strings ("NaN", "+Inf", "-Inf"); as null they decode
    # to None, then NaN. Most answers have none: one scan for the letters spares three copies.
    if b"N" in values or b"I" in values:
        values = values.replace(b'"NaN"', b"null").replace(b'"+Inf"', b"null").replace(b'"-Inf"', b"null")
    pairs = _POINTS_DECODER.decode(values)
    # From a flat iterator: a third of np.array's time.
    flat = np.fromiter(itertools.chain.from_iterable(pairs), dtype=float, count=2 * len(pairs))
    return flat.reshape(-1, 2)


def _matrix_answer(raw: bytes) -> tuple[str | None, str | None, Any]:
    """A range answer decoded straight into one array per series: the bulk of an analysis's input.

    The answer's bytes are dropped as soon as it is decoded; only the arrays and labels stay.
    """
    answer = _MATRIX_DECODER.decode(raw)
    if answer.data is None:
        return answer.status, answer.error, None
    series = [
        RangeSeries(
            {name: value for name, value in item.metric.items() if value is not None}, _points(bytes(item.values))
        )
        for item in answer.data.result
    ]
    return answer.status, answer.error, series


@dataclass(frozen=True)
class Credentials:
    bearer_token: str | None = None
    basic_auth: tuple[str, str] | None = None
    ca_pem: str | None = None
    insecure_skip_verify: bool = False

    def __repr__(self) -> str:  # never print secrets, even by accident
        return "Credentials(<redacted>)"


async def credentials_from_secrets(kube: KubeClient, spec: PrometheusSpec, default_namespace: str) -> Credentials:
    """Read the Secrets a profile points at."""

    async def read(ref: Any) -> str | None:
        if ref is None:
            return None
        namespace = ref.namespace or default_namespace
        data = (await kube.secret_data(ref.name, namespace)).get(ref.key)
        if data is None:
            raise PrometheusError(f"Secret {namespace}/{ref.name} has no key {ref.key!r}")
        return data.decode()

    basic = await read(spec.basic_auth_secret_ref)
    user, _, password = (basic or "").partition(":")
    return Credentials(
        bearer_token=await read(spec.bearer_token_secret_ref),
        basic_auth=(user, password) if basic else None,
        ca_pem=await read(spec.ca_secret_ref),
        insecure_skip_verify=spec.insecure_skip_verify,
    )


@dataclass
class PrometheusClient:
    """One Prometheus, and every HTTP request made to it (retries included), by API endpoint.

    ``requests_by_endpoint`` counts ``query``, ``query_range`` and ``series`` requests: what an
    analyzer reports as ``prometheusRequests`` in its status.
    """

    url: str
    timeout_s: float = 60.0
    credentials: Credentials = field(default_factory=Credentials)
    attempts: int = 3
    # Gzip pays over a slow link only: on a cluster network Prometheus spends more CPU
    # compressing a large range answer than evaluating it, and the client more inflating it.
    compressed_answers: bool = False
    requests_by_endpoint: Counter[str] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        """Every HTTP request made so far."""
        return sum(self.requests_by_endpoint.values())

    def _headers(self) -> dict[str, str]:
        headers = {"Accept-Encoding": "gzip" if self.compressed_answers else "identity"}
        if self.credentials.bearer_token:
            headers["Authorization"] = f"Bearer {self.credentials.bearer_token}"
        elif self.credentials.basic_auth:
            headers["Authorization"] = aiohttp.encode_basic_auth(*self.credentials.basic_auth)
        return headers

    def _ssl(self) -> ssl.SSLContext | bool:
        if self.credentials.insecure_skip_verify:
            return False
        if self.credentials.ca_pem:
            return ssl.create_default_context(cadata=self.credentials.ca_pem)
        return True

    @tracing.traced("prometheus request", **{"url.path": "path"})
    async def _get(self, path: str, params: Params, decode: Decode) -> Any:
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        url = self.url.rstrip("/") + path
        self.requests_by_endpoint[path.rsplit("/", 1)[-1]] += 1
        metrics.PROMETHEUS_QUERIES.labels(path.rsplit("/", 1)[-1]).inc()
        async with aiohttp.ClientSession(timeout=timeout, headers=self._headers()) as session:
            try:
                async with session.get(url, params=params, ssl=self._ssl()) as response:
                    if response.status >= 500 or response.status == 429:
                        raise PrometheusUnavailable(f"{url}: HTTP {response.status}")
                    raw, http_status = await response.read(), response.status
            except TimeoutError:
                raise PrometheusUnavailable(
                    f"{url}: timed out after {self.timeout_s:g} s (spec.prometheus.timeoutSeconds)"
                ) from None
            except aiohttp.ClientError as error:
                raise PrometheusUnavailable(f"{url}: {type(error).__name__}: {error}") from None
        try:
            status, problem, data = decode(raw)
        except (ValueError, msgspec.DecodeError):
            raise PrometheusError(f"{url}: HTTP {http_status}, not a Prometheus API answer") from None
        if status != "success":
            asked = " ".join(value for key, value in params if key in ("query", "match[]"))
            raise PrometheusError(f"{url} refused {asked!r}: {problem}")
        return data

    async def _retrying(self, path: str, params: Params, decode: Decode = _json_answer) -> Any:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=0.5, max=8),
            retry=retry_if_exception_type(PrometheusUnavailable),
            reraise=True,
        ):
            with attempt:
                return await self._get(path, params, decode)
        raise AssertionError("unreachable")  # pragma: no cover

    async def query(self, promql: str, at_s: float | None = None) -> list[dict[str, Any]]:
        """An instant query: the result vector (``metric`` labels and ``value``); a scalar is one unlabelled series."""
        params = [("query", promql)]
        if at_s is not None:
            params.append(("time", f"{at_s:.3f}"))
        data = await self._retrying("/api/v1/query", params)
        if data.get("resultType") == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return list(data.get("result", []))

    async def query_range(self, promql: str, start_s: float, end_s: float, step_s: float) -> list[RangeSeries]:
        """A range query: each series' labels and its (Unix seconds, value) points as an N×2 array.

        NaN and infinite samples come back as NaN (the caller decides what a gap means).
        """
        params = [("query", promql), ("start", f"{start_s:.3f}"), ("end", f"{end_s:.3f}"), ("step", f"{step_s:g}")]
        series: list[RangeSeries] | None = await self._retrying("/api/v1/query_range", params, _matrix_answer)
        return series or []

    async def series(self, selectors: list[str], start_s: float, end_s: float) -> list[dict[str, str]]:
        """Label sets of the series that have samples in the range: read from the index, no sample decoded."""
        params = [("match[]", selector) for selector in selectors]
        params += [("start", f"{start_s:.3f}"), ("end", f"{end_s:.3f}")]
        data = await self._retrying("/api/v1/series", params)
        return [dict(labels) for labels in data or []]

    async def scalar(self, promql: str, at_s: float | None = None) -> float | None:
        """The single value of an instant query; None for no series; NaN is None too."""
        result = await self.query(promql, at_s)
        if not result:
            return None
        value = float(result[0]["value"][1])
        return None if math.isnan(value) else value


async def client_for_profile(
    kube: KubeClient,
    profile: ClusterCostProfile,
    *,
    namespace: str,
    timeout_s: float | None = None,
    attempts: int = 3,
    compressed_answers: bool = False,
) -> PrometheusClient:
    """The one way to reach a profile's Prometheus: URL, timeout, credentials and CA from ``spec.prometheus``.

    ``namespace``: where Secret references without a namespace are read (``KCOST_NAMESPACE``);
    ``timeout_s``: a caller's own cap on the profile's ``timeoutSeconds``.
    Raises ``PrometheusCredentialsError`` naming the profile and field when a Secret is unreadable.
    """
    spec = profile.spec.prometheus
    try:
        credentials = await credentials_from_secrets(kube, spec, namespace)
    except Exception as error:  # noqa: BLE001 - a missing Secret or key is the user's to fix; say which
        raise PrometheusCredentialsError(
            f"ClusterCostProfile {profile.name}: spec.prometheus: cannot read the credentials Secret: {error}"
        ) from None
    timeout = spec.timeout_seconds if timeout_s is None else min(timeout_s, spec.timeout_seconds)
    return PrometheusClient(
        spec.url,
        timeout_s=timeout,
        credentials=credentials,
        attempts=attempts,
        compressed_answers=compressed_answers,
    )
