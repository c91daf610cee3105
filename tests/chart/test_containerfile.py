"""The Containerfile cannot be built here (no container engine): its structure is checked instead."""

from __future__ import annotations

import json
import re
from pathlib import Path

from kcost.devcluster import images

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "Containerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments left out."""
    text = re.sub(r"\\\n\s*", " ", CONTAINERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1]) for line in lines]


def _arguments() -> dict[str, str]:
    return dict(argument.split("=", 1) for keyword, argument in _instructions() if keyword == "ARG" and "=" in argument)


def test_base_images_are_pinned_slim_python_never_latest() -> None:
    arguments = _arguments()
    images = [re.sub(r"\$\{(\w+)\}", lambda m: arguments[m[1]], argument.split()[0])
              for keyword, argument in _instructions() if keyword == "FROM"]  # fmt: skip
    assert images
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name, f"{image}: no image name"
        assert tag not in ("", "latest"), f"{image}: pin a tag"
        assert re.match(r"3\.11\.\d+-slim", tag), f"{image}: a slim Python 3.11 of a given patch release"


def test_the_final_stage_runs_kcost_as_a_numeric_non_root_user() -> None:
    instructions = _instructions()
    final = instructions[max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM") :]
    users = [argument for keyword, argument in final if keyword == "USER"]
    assert users, "the final stage sets no USER: it would run as root"
    user = users[-1].split(":")[0]
    assert user.isdigit(), "a numeric UID, so runAsNonRoot can check it"
    assert int(user) != 0, "the final stage runs as root"
    (entrypoint,) = [json.loads(argument) for keyword, argument in final if keyword == "ENTRYPOINT"]
    assert entrypoint == ["kcost"]


def test_dependencies_are_installed_from_the_lock_before_the_code_is_copied() -> None:
    instructions = _instructions()
    lock_copy = next(i for i, (k, a) in enumerate(instructions) if k == "COPY" and "requirements.lock" in a)
    install = next(i for i, (k, a) in enumerate(instructions) if k == "RUN" and "-r runtime.txt" in a)
    code_copy = next(i for i, (k, a) in enumerate(instructions) if k == "COPY" and a.startswith("kcost "))
    assert lock_copy < install < code_copy, "the dependency layer must not depend on the code"
    assert "--constraint requirements.lock" in instructions[install][1]


def test_a_read_only_root_filesystem_works_nothing_is_written_outside_tmp() -> None:
    environment = " ".join(argument for keyword, argument in _instructions() if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in environment
    for variable in ("HOME", "MPLCONFIGDIR", "KCOST_WEBHOOK_CERT_DIR"):
        match = re.search(rf"{variable}=(\S+)", environment)
        assert match, f"{variable} is not set"
        assert match[1].startswith("/tmp"), f"{variable}={match[1]} is outside the writable /tmp"


def test_the_dependencies_test_suites_are_removed_as_the_harness_image_does() -> None:
    install = next(a for k, a in _instructions() if k == "RUN" and "-r runtime.txt" in a)
    for suite in images.TEST_SUITE_DIRS:
        pattern = f"-name {suite}" if "/" not in suite else f"-path '*/{suite}'"
        assert pattern in install, f"the Containerfile keeps the {suite} folders the harness image drops"


def test_build_only_files_go_and_modules_are_stripped_as_the_harness_image_does() -> None:
    install = next(a for k, a in _instructions() if k == "RUN" and "-r runtime.txt" in a)
    for suffix in images.BUILD_ONLY_SUFFIXES:
        assert f"-name '*{suffix}'" in install, f"the Containerfile keeps the {suffix} files the harness image drops"
    # auditwheel's bundled libraries break when stripped: both builds leave `<package>.libs` alone.
    assert f"-not -path '*.libs/*' -exec {' '.join(images.STRIP)}" in install
