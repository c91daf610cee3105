"""One AdmissionReview in, one answer out: which handler a request goes to, and never a crash.

A handler that fails (the API server did not answer a SubjectAccessReview, say) refuses
the request with a message saying so: failing closed, as the configuration's
``failurePolicy: Fail`` would, but with the reason named. A body that is not an
AdmissionReview gets HTTP 400.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from kcost.webhooks import approvals, validation
from kcost.webhooks.admission import AdmissionRequest, Verdict, response
from kcost.webhooks.validation import Context

Handler = Callable[[AdmissionRequest, Context], Awaitable[Verdict]]
VALIDATORS: dict[str, Handler] = {
    "Analysis": validation.analysis,
    "OptimizationPolicy": validation.policy,
    "ClusterCostProfile": validation.profile,
    "OptimizationRecommendation": approvals.recommendation,
}
ADMITTED_OPERATIONS = frozenset({"CREATE", "UPDATE"})
log = logging.getLogger(__name__)


class InvalidReviewError(ValueError):
    """The body is not an ``admission.k8s.io/v1`` AdmissionReview with a request."""


def parse_review(body: Any) -> AdmissionRequest:
    if not isinstance(body, dict) or not isinstance(body.get("request"), dict):
        raise InvalidReviewError("expected an admission.k8s.io/v1 AdmissionReview with a request")
    try:
        return AdmissionRequest.model_validate(body["request"])
    except ValidationError as error:
        raise InvalidReviewError(f"request: {error.errors()[0]['msg']} at {error.errors()[0]['loc']}") from None


def _in_scope(request: AdmissionRequest) -> bool:
    return request.operation in ADMITTED_OPERATIONS and not request.sub_resource and request.object is not None


async def validate(request: AdmissionRequest, context: Context) -> Verdict:
    """The validating webhook's decision."""
    handler = VALIDATORS.get(request.kind.kind)
    if handler is None or not _in_scope(request) or validation.spec_unchanged(request):
        return Verdict()
    return await handler(request, context)


def mutate(request: AdmissionRequest, now: datetime.datetime) -> Verdict:
    """The mutating webhook's patch: only recommendations are stamped."""
    if request.kind.kind != "OptimizationRecommendation" or not _in_scope(request):
        return Verdict()
    return approvals.stamp(request, now)


async def answer(body: Any, *, mutating: bool, context: Context) -> dict[str, Any]:
    """The AdmissionReview answering ``body``; raises InvalidReviewError for a body that is not one."""
    request = parse_review(body)
    try:
        if mutating:
            verdict = mutate(request, datetime.datetime.now(datetime.UTC))
        else:
            verdict = await validate(request, context)
    except Exception as error:
        log.exception("admission of %s failed", request.display_name)
        verdict = Verdict(
            refusals=(f"kcost's admission webhook could not check it ({type(error).__name__}: {error}); try again",),
            code=503,
        )
    return response(request.uid, verdict, request.display_name)
