"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import kmock
import pytest
from kubernetes_asyncio import client


@pytest.fixture
async def kmock_api(kmock: kmock.RawHandler) -> AsyncIterator[client.ApiClient]:
    """A Kubernetes API client talking to the test's kmock server; closed after the test."""
    api = client.ApiClient(client.Configuration(host=str(kmock.url).rstrip("/")))
    try:
        yield api
    finally:
        await api.close()
