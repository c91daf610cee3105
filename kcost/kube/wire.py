"""The API server's answers read as they come, without the generated client's preloading.

Lists and watches are read raw: building the generated models of thousands of objects costs
more than the listing, and the generated client would drop a 201's body. Without preloading
the client leaves errors to the caller, so ``failure`` raises what it would have raised.
A watch's events are split here, for the streamed lists and the webhook's mirrors alike, so
reading an event never depends on the HTTP library's line-length limit (which depends on how
the session was made).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from kubernetes_asyncio.client.exceptions import ApiException

# A Kubernetes object or answer as decoded JSON: the one spelling of the kube layer.
Body = dict[str, Any]
# Content type of a server-side apply.
APPLY = "application/apply-patch+yaml"
# Content type of a JSON merge patch.
MERGE = "application/merge-patch+json"


async def failure(response: Any) -> ApiException:
    """The error of a non-2xx answer, its body kept (the API server's Status says why)."""
    error = ApiException(status=response.status, reason=response.reason)
    error.body = await response.read()
    return error


async def body(response: Any) -> Body:
    """The JSON body of an answer; a non-2xx answer is raised as ``ApiException``."""
    if not 200 <= response.status <= 299:
        raise await failure(response)
    answer: Body = json.loads(await response.read())
    return answer


async def pages(list_page: Callable[..., Awaitable[Body]], page_size: int) -> AsyncIterator[Body]:
    """The items of a list, a page at a time: ``list_page`` takes ``limit`` and ``_continue``.

    A token the API server no longer knows (410 Gone, minutes after the first page) is raised, not retried.
    """
    token: str | None = None
    while True:
        options: dict[str, Any] = {"limit": page_size}
        if token:
            options["_continue"] = token
        page = await list_page(**options)
        for item in page.get("items") or []:
            yield item
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return


async def events(content: Any) -> AsyncIterator[Body]:
    """The JSON documents of a watch, one a line, however the chunks cut them (an object can be 1.5 MB)."""
    head: list[bytes] = []  # the start of a line that has not ended yet
    async for chunk in content.iter_any():
        *ended, rest = chunk.split(b"\n")
        if ended:
            ended[0] = b"".join([*head, ended[0]])
            head = []
            for line in ended:
                if line.strip():
                    yield json.loads(line)
        if rest:
            head.append(rest)
    last = b"".join(head)
    if last.strip():
        yield json.loads(last)
