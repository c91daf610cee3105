"""The labels an analyzer puts on each recommendation it writes: selectable by run, analyzer and type.

A module of its own, without the models, so the ``kubectl cost`` plugin can name them without loading pydantic.
"""

LABEL_ANALYSIS = "kcost.dev/analysis"
LABEL_ANALYZER = "kcost.dev/analyzer"
LABEL_TYPE = "kcost.dev/type"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
