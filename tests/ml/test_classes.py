"""Workload classes: features that ignore the sampling interval, every generator pattern recognised, the artifact."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from kcost.api.v1alpha1.recommendation import WorkloadClass
from kcost.devcluster.scenario import labelled
from kcost.devcluster.scenario.model import UsagePattern
from kcost.ml import artifacts, class_features, classes

# Seeds far from the ones the shipped model was trained (1) and checked (10_001) with.
UNSEEN_SEED = 777_000


def _features(series: labelled.LabelledSeries) -> np.ndarray:
    return class_features.features(series.ts_s, series.cpu_cores, series.memory_bytes, series.cpu_request_cores)


@pytest.mark.parametrize("pattern", list(UsagePattern))
def test_the_same_workload_sampled_every_30_s_and_every_60_s_gets_the_same_class(pattern: UsagePattern) -> None:
    every_30_s = labelled.generate(pattern, UNSEEN_SEED, step_s=30, days=5)
    every_60_s = labelled.generate(pattern, UNSEEN_SEED, step_s=60, days=5)
    assert every_30_s.ts_s.size > every_60_s.ts_s.size
    model = classes.shipped()
    assert model.classify(_features(every_30_s)) == model.classify(_features(every_60_s)) == every_30_s.label


def test_features_of_every_other_sample_are_those_of_every_sample() -> None:
    series = labelled.generate(UsagePattern.DIURNAL, UNSEEN_SEED, step_s=30, days=7)
    every = _features(series)
    halved = class_features.features(
        series.ts_s[::2], series.cpu_cores[::2], series.memory_bytes[::2], series.cpu_request_cores
    )
    # Shares and hourly figures move by noise only; none scales with the number of samples.
    differences = dict(zip(class_features.FEATURES, every - halved, strict=True))
    assert np.allclose(every, halved, rtol=0.1, atol=0.05), differences


@pytest.mark.parametrize("pattern", list(UsagePattern))
def test_every_generator_pattern_is_recognised_on_series_the_model_never_saw(pattern: UsagePattern) -> None:
    series = [labelled.generate(pattern, UNSEEN_SEED + i) for i in range(4)]
    found = classes.shipped().classify_many(np.array([_features(one) for one in series]))
    assert found == [labelled.CLASS_OF_PATTERN[pattern]] * 4


def test_one_row_is_classified_as_the_forest_classifies_many() -> None:
    rows = np.array([_features(labelled.generate(pattern, UNSEEN_SEED)) for pattern in UsagePattern])
    noisy = np.repeat(rows, 5, axis=0) * np.random.default_rng(3).uniform(0.5, 1.5, (rows.shape[0] * 5, rows.shape[1]))
    model = classes.shipped()
    assert [model.classify(row) for row in noisy] == model.classify_many(noisy)


def test_less_than_a_day_of_history_has_no_class() -> None:
    series = labelled.generate(UsagePattern.STEADY, UNSEEN_SEED, step_s=60, days=2)
    day = series.ts_s < series.ts_s[0] + 20 * 3600
    assert classes.classify(series.ts_s[day], series.cpu_cores[day], series.memory_bytes[day], 1.0) is None
    with pytest.raises(ValueError, match="24h of history"):
        class_features.features(series.ts_s[day], series.cpu_cores[day], series.memory_bytes[day], 1.0)


def test_training_is_deterministic_for_a_seed() -> None:
    series = labelled.labelled(3, seed=5)
    rows = np.array([_features(one) for one in series])
    labels = np.array([str(one.label) for one in series])
    first, second = classes.fit(rows, labels, seed=9), classes.fit(rows, labels, seed=9)
    probe = rows * np.random.default_rng(1).uniform(0.3, 3.0, rows.shape)
    assert first.classify_many(probe) == second.classify_many(probe)
    assert np.array_equal(first.forest.feature_importances_, second.forest.feature_importances_)


def test_the_confusion_report_counts_by_true_and_predicted_class() -> None:
    report = classes.confusion(
        [WorkloadClass.STEADY, WorkloadClass.STEADY, WorkloadClass.LEAKING],
        [WorkloadClass.STEADY, WorkloadClass.BURSTY, WorkloadClass.LEAKING],
    )
    assert report["accuracy"] == pytest.approx(0.667)
    assert report["confusion"]["steady"]["bursty"] == 1
    assert report["confusion"]["leaking"]["leaking"] == 1


def test_the_shipped_class_model_says_what_it_learned_from() -> None:
    metadata = artifacts.read_metadata(classes.ARTIFACT)
    assert metadata["features"] == list(class_features.FEATURES)
    assert metadata["classes"] == [str(found) for found in WorkloadClass]
    assert metadata["metrics_held_out"]["accuracy"] >= 0.95
    assert len(metadata["training_data_sha256"]) == 64


def test_a_class_model_written_by_another_scikit_learn_is_refused(tmp_path: Path) -> None:
    for source in artifacts.paths(classes.ARTIFACT):
        shutil.copy(source, tmp_path / source.name)
    _, metadata_path = artifacts.paths(classes.ARTIFACT, tmp_path)
    metadata = json.loads(metadata_path.read_text())
    metadata["library_versions"]["scikit-learn"] = "1.0.0"
    metadata_path.write_text(json.dumps(metadata))
    with pytest.raises(artifacts.ArtifactError, match=r"classes\.json: written with scikit-learn 1\.0\.0"):
        artifacts.load(classes.ARTIFACT, tmp_path)


def test_the_last_steps_past_the_data_do_not_make_a_steady_service_leak() -> None:
    # Read through Prometheus, the window's last steps (after the last scrape) still have a CPU rate but no
    # memory, which the read path fills with 0: the hour they fall in looked like a restart and a falling trend.
    series = labelled.generate(UsagePattern.STEADY, UNSEEN_SEED, step_s=60, days=2)
    tail_s = series.ts_s[-1] + np.array([129.0, 258.0])
    ts_s = np.concatenate([series.ts_s, tail_s])
    cpu_cores = np.concatenate([series.cpu_cores, series.cpu_cores[-2:] / 2])
    memory_bytes = np.concatenate([series.memory_bytes, np.zeros(2)])
    with_tail = dict(
        zip(
            class_features.FEATURES,
            class_features.features(ts_s, cpu_cores, memory_bytes, series.cpu_request_cores),
            strict=True,
        )
    )
    without = dict(zip(class_features.FEATURES, _features(series), strict=True))
    memory = ("memory_hourly_cv", "memory_rising_hour_share", "memory_drops_per_day", "memory_trend_per_day")
    assert {name: with_tail[name] for name in memory} == pytest.approx({name: without[name] for name in memory})
    assert classes.classify(ts_s, cpu_cores, memory_bytes, series.cpu_request_cores) == WorkloadClass.STEADY
