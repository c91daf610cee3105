"""One peering read serves every handler of the operator, whatever copy of the memo kopf hands it."""

from __future__ import annotations

import asyncio
import copy

import kopf

from kcost.operator import leadership, main


class PeeringReads:
    def __init__(self) -> None:
        self.reads = 0

    async def get_cluster_peering(self, name: str) -> dict[str, object]:
        self.reads += 1
        await asyncio.sleep(0)  # others arrive while this read is under way
        return {"metadata": {"name": name}, "status": {}}


async def test_memo_copies_of_many_objects_share_one_peering_read() -> None:
    kube = PeeringReads()
    memo = kopf.Memo()
    memo.kube = kube
    memo.leadership = leadership.Leadership(lambda: main._leading(kube))  # type: ignore[arg-type]
    # Kopf gives each object a shallow copy of the memo; a thousand recommendations are a thousand copies.
    copies = [copy.copy(memo) for _ in range(1000)]

    answers = await asyncio.gather(*(main._still_leading(each) for each in copies))

    assert all(answers)
    assert kube.reads == 1


async def test_the_answer_is_read_again_once_it_is_older_than_its_lifetime() -> None:
    kube = PeeringReads()
    shared = leadership.Leadership(lambda: main._leading(kube), ttl_s=0.0)  # type: ignore[arg-type]

    await shared.leading()
    await asyncio.sleep(0.01)
    await shared.leading()

    assert kube.reads == 2
