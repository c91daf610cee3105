"""Model artifacts: a joblib file and its metadata JSON beside it, shipped in the package.

The metadata says what the model was trained on (a hash of the training rows, the
workloads, the seed), its features, its metrics, and the versions of the libraries that
wrote it. A pickled scikit-learn model is only safe to load with the versions that
wrote it, so loading refuses any other, naming the file and both versions; the fix is
``kcost ml train`` under the installed versions. Training is never needed at install.

Beside the pickle, a model's scoring form is saved as plain arrays (``<name>.npz``): what an
analyzer needs to score, loaded without scikit-learn (with scipy and pandas ~110 MiB of
RSS that a sizing process would otherwise carry from its first estimate on).
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ARTIFACT_FORMAT = 1
SHIPPED_DIR = Path(__file__).parent / "models"
# The libraries whose pickles must match: the model's own classes and the arrays inside them.
PINNED_LIBRARIES = ("scikit-learn", "numpy", "joblib")


class ArtifactError(RuntimeError):
    """A model artifact is missing, unreadable or was written by other library versions."""


@dataclass(frozen=True)
class Artifact:
    """A loaded model and its metadata."""

    model: Any
    metadata: dict[str, Any]


def library_versions() -> dict[str, str]:
    """The versions that must match between writing and loading, and Python's for the record."""
    return {name: package_metadata.version(name) for name in PINNED_LIBRARIES} | {"python": platform.python_version()}


def data_hash(*arrays: np.ndarray) -> str:
    """SHA-256 of the training arrays' bytes, shapes and types: what identifies the training data."""
    digest = hashlib.sha256()
    for array in arrays:
        contiguous = np.ascontiguousarray(array)
        digest.update(f"{contiguous.dtype.str}{contiguous.shape}".encode())
        digest.update(contiguous.tobytes())
    return digest.hexdigest()


def paths(name: str, directory: Path = SHIPPED_DIR) -> tuple[Path, Path]:
    """The model file and the metadata file of artifact ``name``."""
    return directory / f"{name}.joblib", directory / f"{name}.json"


def save(name: str, model: Any, metadata: dict[str, Any], directory: Path = SHIPPED_DIR) -> tuple[Path, Path]:
    """Write ``model`` and ``metadata`` (plus format and library versions) as artifact ``name``."""
    model_path, metadata_path = paths(name, directory)
    directory.mkdir(parents=True, exist_ok=True)
    import joblib  # noqa: PLC0415 - only to write or read a pickle; scoring reads the arrays

    joblib.dump(model, model_path, compress=3)
    full = {"name": name, "format": ARTIFACT_FORMAT, "library_versions": library_versions(), **metadata}
    metadata_path.write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")
    return model_path, metadata_path


def read_metadata(name: str, directory: Path = SHIPPED_DIR) -> dict[str, Any]:
    """The metadata of artifact ``name``, checked against the installed library versions."""
    _, metadata_path = paths(name, directory)
    try:
        metadata: dict[str, Any] = json.loads(metadata_path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{metadata_path}: model metadata not found; build it with `kcost ml train`") from None
    except json.JSONDecodeError as error:
        raise ArtifactError(f"{metadata_path}: not JSON ({error})") from None
    if metadata.get("format") != ARTIFACT_FORMAT:
        raise ArtifactError(
            f"{metadata_path}: artifact format {metadata.get('format')!r}, this kcost reads format {ARTIFACT_FORMAT}"
        )
    written = metadata.get("library_versions") or {}
    installed = library_versions()
    mismatched = [name for name in PINNED_LIBRARIES if written.get(name) != installed[name]]
    if mismatched:
        found = ", ".join(f"{lib} {written.get(lib)} (installed {installed[lib]})" for lib in mismatched)
        raise ArtifactError(
            f"{metadata_path}: written with {found}; refusing to load it. "
            "Rebuild it with `kcost ml train` or install the versions it was written with."
        )
    return metadata


def load(name: str, directory: Path = SHIPPED_DIR) -> Artifact:
    """Artifact ``name``; raises ``ArtifactError`` when it is missing or its library versions differ."""
    metadata = read_metadata(name, directory)
    model_path, _ = paths(name, directory)
    import joblib  # noqa: PLC0415 - unpickling imports the model's library anyway

    try:
        model = joblib.load(model_path)
    except FileNotFoundError:
        raise ArtifactError(f"{model_path}: model file not found (its metadata is there)") from None
    return Artifact(model=model, metadata=metadata)


def arrays_path(name: str, directory: Path = SHIPPED_DIR) -> Path:
    """The file of artifact ``name``'s scoring arrays."""
    return directory / f"{name}.npz"


def save_arrays(name: str, arrays: dict[str, npt.NDArray[Any]], directory: Path = SHIPPED_DIR) -> Path:
    """Write artifact ``name``'s scoring form (next to its pickle, from the same model)."""
    path = arrays_path(name, directory)
    directory.mkdir(parents=True, exist_ok=True)
    named: dict[str, Any] = dict(arrays)  # numpy's stub types the keywords as its own options
    np.savez_compressed(path, **named)
    return path


def load_arrays(name: str, directory: Path = SHIPPED_DIR) -> dict[str, npt.NDArray[Any]]:
    """Artifact ``name``'s scoring arrays, checked like its pickle (format and library versions)."""
    read_metadata(name, directory)
    path = arrays_path(name, directory)
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}
    except FileNotFoundError:
        raise ArtifactError(f"{path}: scoring arrays not found; rebuild them with `kcost ml train`") from None
