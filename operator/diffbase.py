"""kopf's diff base, built only for the resources kcost handles by change (create, update, resume).

kopf builds each event's essence (a deep copy of the body without its status) to detect
changes, even for a resource whose only handlers are event handlers, which never read it.
Deployments (every one in the cluster) and recommendations are such resources: with a
thousand rollouts under way their events made that copy a tenth of the operator's CPU.
"""

from __future__ import annotations

from collections.abc import Iterable

import kopf

# (apiVersion, kind) of the resources the operator watches with event handlers only.
EVENT_ONLY = frozenset({("apps/v1", "Deployment"), ("optimizer.kcost.dev/v1alpha1", "OptimizationRecommendation")})


class ChangeHandledDiffBase(kopf.AnnotationsDiffBaseStorage):
    """The annotations diff base, with an empty essence for the resources handled by events only."""

    def build(self, *, body: kopf.Body, extra_fields: Iterable[kopf.FieldSpec] | None = None) -> kopf.BodyEssence:
        if (body.get("apiVersion"), body.get("kind")) in EVENT_ONLY:
            return kopf.BodyEssence()
        return super().build(body=body, extra_fields=extra_fields)
