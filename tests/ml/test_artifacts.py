"""Model artifacts: written with their metadata, loaded back, refused when the library versions differ."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kcost.ml import artifacts, confidence, confidence_features


def test_an_artifact_round_trips_with_its_metadata(tmp_path: Path) -> None:
    model_path, metadata_path = artifacts.save("model", {"weights": [1, 2]}, {"seed": 3}, tmp_path)
    loaded = artifacts.load("model", tmp_path)
    assert loaded.model == {"weights": [1, 2]}
    assert loaded.metadata["seed"] == 3
    assert loaded.metadata["library_versions"] == artifacts.library_versions()
    assert model_path.exists()
    assert metadata_path.exists()


def test_another_scikit_learn_version_is_refused_naming_the_file_and_versions(tmp_path: Path) -> None:
    _, metadata_path = artifacts.save("model", {"weights": [1]}, {}, tmp_path)
    metadata = json.loads(metadata_path.read_text())
    metadata["library_versions"]["scikit-learn"] = "0.24.2"
    metadata_path.write_text(json.dumps(metadata))
    installed = artifacts.library_versions()["scikit-learn"]
    with pytest.raises(artifacts.ArtifactError) as refused:
        artifacts.load("model", tmp_path)
    message = str(refused.value)
    assert str(metadata_path) in message
    assert f"scikit-learn 0.24.2 (installed {installed})" in message
    assert "kcost ml train" in message


def test_scoring_arrays_round_trip_exactly_and_are_checked_like_the_pickle(tmp_path: Path) -> None:
    arrays = {"threshold": np.array([0.1, np.inf]), "depth": np.array(3), "labels": np.array(["idle", "bursty"])}
    artifacts.save("model", {"weights": [1]}, {}, tmp_path)
    artifacts.save_arrays("model", arrays, tmp_path)
    loaded = artifacts.load_arrays("model", tmp_path)
    assert loaded.keys() == arrays.keys()
    assert all(np.array_equal(loaded[key], arrays[key]) and loaded[key].dtype == arrays[key].dtype for key in arrays)
    _, metadata_path = artifacts.paths("model", tmp_path)
    metadata = json.loads(metadata_path.read_text())
    metadata["library_versions"]["scikit-learn"] = "0.24.2"
    metadata_path.write_text(json.dumps(metadata))
    with pytest.raises(artifacts.ArtifactError, match=r"scikit-learn 0\.24\.2"):
        artifacts.load_arrays("model", tmp_path)


def test_missing_scoring_arrays_say_how_to_build_them(tmp_path: Path) -> None:
    artifacts.save("model", {"weights": [1]}, {}, tmp_path)
    with pytest.raises(artifacts.ArtifactError, match="kcost ml train"):
        artifacts.load_arrays("model", tmp_path)


def test_a_missing_artifact_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(artifacts.ArtifactError, match="kcost ml train"):
        artifacts.load("absent", tmp_path)


def test_the_training_data_hash_changes_with_the_data() -> None:
    rows = np.ones((3, 2))
    assert artifacts.data_hash(rows) == artifacts.data_hash(np.ones((3, 2)))
    assert artifacts.data_hash(rows) != artifacts.data_hash(np.ones((2, 3)))
    assert artifacts.data_hash(rows, np.array([True])) != artifacts.data_hash(rows, np.array([False]))


def test_the_shipped_confidence_model_loads_and_names_what_it_was_trained_on() -> None:
    metadata = artifacts.read_metadata(confidence.ARTIFACT)
    assert metadata["features"] == list(confidence_features.FEATURES)
    assert len(metadata["training_data_sha256"]) == 64
    assert confidence.trained_on()
    assert 0.0 <= confidence.shipped().estimate(np.zeros(len(confidence_features.FEATURES))) <= 1.0
