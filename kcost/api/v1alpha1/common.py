"""Building blocks shared by the four kinds: the base model, conditions, selectors, references.

Field names on the wire are camelCase (Kubernetes convention); Python attributes are
snake_case. Every model parses with unknown fields ignored (the CRD schema is the gate
for those) and serializes with ``to_api()``.
"""

from __future__ import annotations

import datetime
import functools
import re
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "optimizer.kcost.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d|w))+$"
QUANTITY_PATTERN = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
CRON_PATTERN = r"^(@(annually|yearly|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$"

# Bounded so that CEL rules reading a duration (``duration_seconds_cel``) stay within the API server's cost budget.
Duration = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        max_length=32,
        description="a duration such as 90s, 15m, 24h, 14d or 2w",
        examples=["14d"],
    ),
]
Quantity = Annotated[
    str,
    Field(pattern=QUANTITY_PATTERN, max_length=32, description="a Kubernetes quantity such as 250m, 2, 512Mi or 1Gi"),
]
CronSchedule = Annotated[str, Field(pattern=CRON_PATTERN, description="a cron schedule (5 fields) or @daily etc.")]
DnsLabel = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)]
ConditionReason = Annotated[
    str, Field(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", max_length=1024, min_length=1)
]


class ApiModel(BaseModel):
    """Base of every API model: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_api(self) -> dict[str, Any]:
        """The JSON the API server expects: aliases, no unset optionals."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# The condition every kcost object has: is it what it should be, and if not, why.
READY = "Ready"


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(ApiModel):
    """One aspect of the object's state, in the exact shape of ``metav1.Condition``."""

    type: str = Field(
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
        max_length=316,
        description="type of condition in CamelCase, e.g. Ready",
    )
    status: ConditionStatus = Field(description="True, False or Unknown")
    observed_generation: int | None = Field(
        None, ge=0, description="the .metadata.generation the condition was set from"
    )
    last_transition_time: datetime.datetime = Field(description="when the status last changed")
    reason: ConditionReason = Field(description="machine-readable CamelCase reason for the last transition")
    message: str = Field("", max_length=32768, description="human-readable details")


class Conditions:
    """Helpers over a list of conditions, keeping ``lastTransitionTime`` when the status stays."""

    @staticmethod
    def find(conditions: list[Condition], condition_type: str) -> Condition | None:
        return next((c for c in conditions if c.type == condition_type), None)

    @staticmethod
    def set(
        conditions: list[Condition],
        condition_type: str,
        status: ConditionStatus | bool,
        reason: str,
        message: str = "",
        *,
        generation: int | None = None,
        now: datetime.datetime | None = None,
    ) -> list[Condition]:
        """A new list with ``condition_type`` set; its transition time changes only with its status."""
        if isinstance(status, bool):
            status = ConditionStatus.TRUE if status else ConditionStatus.FALSE
        previous = Conditions.find(conditions, condition_type)
        changed = previous is None or previous.status != status
        when = (now or datetime.datetime.now(datetime.UTC)).replace(microsecond=0)
        updated = Condition(
            type=condition_type,
            status=status,
            reason=reason,
            message=message,
            observed_generation=generation,
            last_transition_time=when if changed or previous is None else previous.last_transition_time,
        )
        return [c for c in conditions if c.type != condition_type] + [updated]


def cel(rule: str, message: str, field_path: str | None = None) -> dict[str, Any]:
    """An ``x-kubernetes-validations`` entry: the API server checks it, and its error names the field."""
    entry = {"rule": rule, "message": message}
    if field_path is not None:
        entry["fieldPath"] = field_path
    return entry


def duration_seconds_cel(field: str) -> str:
    """A CEL expression for the seconds in the duration string ``field`` (``14d`` → 1209600.0).

    CEL's own ``duration()`` knows neither days nor weeks, so the parts are summed here.
    """
    unit_seconds = " : ".join(
        f"p.endsWith('{unit}') ? {float(seconds)}" for unit, seconds in _DURATION_UNITS_S.items() if unit != "w"
    )
    return (
        f"{field}.findAll('[0-9.]+(ms|s|m|h|d|w)')"
        f".map(p, double(p.find('[0-9.]+')) * ({unit_seconds} : {float(_DURATION_UNITS_S['w'])})).sum()"
    )


def validations(*rules: dict[str, Any]) -> ConfigDict:
    """Model config carrying CEL rules into the generated CRD schema."""
    return ConfigDict(json_schema_extra={"x-kubernetes-validations": list(rules)})


def conditions_field(description: str) -> Any:
    """``status.conditions``: a list map keyed by type, so each writer owns its own entries."""
    return Field(
        default_factory=list,
        max_length=64,
        description=description,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )


class LabelSelectorRequirement(ApiModel):
    model_config = validations(
        cel(
            "(self.operator in ['Exists', 'DoesNotExist']) == (!has(self.values) || size(self.values) == 0)",
            "values must be set for In and NotIn, and empty for Exists and DoesNotExist",
            ".values",
        )
    )

    key: str = Field(description="the label key the selector applies to")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(description="how the key relates to the values")
    values: list[str] = Field(
        default_factory=list, max_length=256, description="values for In and NotIn; empty otherwise"
    )


class LabelSelector(ApiModel):
    """A Kubernetes label selector; an empty selector matches everything."""

    match_labels: dict[str, str] = Field(default_factory=dict, description="labels that must all be present")
    match_expressions: list[LabelSelectorRequirement] = Field(
        default_factory=list, max_length=32, description="requirements that must all hold"
    )

    def matches(self, labels: dict[str, str]) -> bool:
        if any(labels.get(key) != value for key, value in self.match_labels.items()):
            return False
        for requirement in self.match_expressions:
            present = requirement.key in labels
            value = labels.get(requirement.key)
            ok = {
                "In": present and value in requirement.values,
                "NotIn": not present or value not in requirement.values,
                "Exists": present,
                "DoesNotExist": not present,
            }[requirement.operator]
            if not ok:
                return False
        return True


class SecretKeyRef(ApiModel):
    """A key of a Secret. The value is read by kcost, never copied into status or logs."""

    name: DnsLabel = Field(description="name of the Secret")
    namespace: str | None = Field(None, description="namespace of the Secret; defaults to kcost's own")
    key: str = Field(description="key inside the Secret's data")


class ConfigMapKeyRef(ApiModel):
    name: DnsLabel = Field(description="name of the ConfigMap")
    namespace: str | None = Field(None, description="namespace of the ConfigMap; defaults to kcost's own")
    key: str = Field(description="key inside the ConfigMap's data")


class CrdInfo(BaseModel):
    """How a kind is published as a CRD; declared beside its model."""

    kind: str
    plural: str
    singular: str
    short_names: list[str]
    scope: Literal["Cluster", "Namespaced"]
    printer_columns: list[dict[str, Any]] = Field(default_factory=list)


class Resource(ApiModel):
    """A whole object of one of our kinds: metadata as the API server sent it, typed spec and status."""

    crd: ClassVar[CrdInfo]
    api_version: str = Field(API_VERSION, description="optimizer.kcost.dev/v1alpha1")
    kind: str = Field(description="the kind")
    metadata: dict[str, Any] = Field(default_factory=dict, description="standard object metadata")

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str | None:
        namespace = self.metadata.get("namespace")
        return str(namespace) if namespace else None

    @property
    def generation(self) -> int:
        return int(self.metadata.get("generation", 0))

    @property
    def uid(self) -> str:
        return str(self.metadata.get("uid", ""))

    @property
    def resource_version(self) -> str:
        return str(self.metadata.get("resourceVersion", ""))

    @property
    def display_name(self) -> str:
        """``kind/name`` or ``kind namespace/name``: how errors and events name the object."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"


_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d|w)")
_DURATION_UNITS_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> datetime.timedelta:
    """``14d`` → 14 days; ``1h30m`` → 90 minutes. Raises ValueError naming the text."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"{text!r} is not a duration; expected e.g. 90s, 15m, 24h, 14d, 2w")
    seconds = sum(float(n) * _DURATION_UNITS_S[unit] for n, unit in _DURATION_PART.findall(text))
    return datetime.timedelta(seconds=seconds)


_QUANTITY_SUFFIXES = {
    "": 1.0,
    "m": 1e-3,
    "u": 1e-6,
    "n": 1e-9,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}


def parse_quantity(text: str | int | float) -> float:
    """A Kubernetes quantity as a number: ``250m`` → 0.25, ``1Gi`` → 1073741824."""
    if isinstance(text, int | float):
        return float(text)
    return _parse_quantity_text(text)


@functools.lru_cache(maxsize=4096)
def _parse_quantity_text(text: str) -> float:
    # Cached: an analysis compares the same few hundred quantities thousands of times (hysteresis).
    match = re.fullmatch(r"([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)", text.strip())
    if not match or match.group(2) not in _QUANTITY_SUFFIXES:
        raise ValueError(f"{text!r} is not a Kubernetes quantity; expected e.g. 250m, 2, 512Mi, 1Gi")
    return float(match.group(1)) * _QUANTITY_SUFFIXES[match.group(2)]
