"""Container images for the real node, built without Docker or a registry.

The kcost image follows the Containerfile's recipe with Debian's tools: a minbase
Debian rootfs with Python 3.11 and a venv at ``/opt/kcost`` (mmdebstrap), a layer with the
locked runtime dependencies (uv, from its cache), a small top layer with kcost itself;
umoci assembles the OCI image. Layers are cached in ``~/.cache/kcost/images/``:

    base-<recipe hash>.tar        the rootfs (minutes, once)
    deps-<runtime pins hash>.tar  the dependencies (rebuilt when the pins or what is left out change)
    layout-<base+deps hash>/      an OCI layout with both layers compressed (the slow part)

so a code change costs one small layer. The archive is imported into the node's
containerd with ``ctr images import``; pods use it with ``imagePullPolicy: Never``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from kcost.devcluster import binaries, progress

REPO_ROOT = Path(__file__).resolve().parents[2]
KCOST_REPOSITORY = "kcost.local/kcost"
PAUSE_REPOSITORY = "kcost.local/pause"
DEBIAN_SUITE = "bookworm"
# Debian's Python 3.11: the interpreter, its standard library and TLS roots, nothing else.
BASE_PACKAGES = ("python3.11-minimal", "libpython3.11-stdlib", "ca-certificates")
# /usr merged with directory links, as debootstrap does, and Debian's usr-is-merged marker: without it, mmdebstrap
# installs usrmerge, which brings perl (about 50 MB) that nothing else in the image uses.
MERGED_USR_HOOKS = "/usr/share/mmdebstrap/hooks/merged-usr"
BASE_HOOKS = (
    'chroot "$1" groupadd --gid 10001 kcost',
    'chroot "$1" useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp kcost',
    # The venv the dependencies and kcost go into, as in the Containerfile.
    'chroot "$1" python3.11 -m venv --without-pip /opt/kcost',
    'rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/usr/share/doc "$1"/usr/share/man "$1"/usr/share/locale',
)
SITE_PACKAGES = "opt/kcost/lib/python3.11/site-packages"
# The dependencies' own test suites (scipy's, scikit-learn's, numpy's: about 60 MB), never imported
# at run time; the Containerfile removes the same folders.
TEST_SUITE_DIRS = ("tests", "joblib/test")
# What only a build reads (type stubs, Cython and C sources, headers: about 8 MB); the Containerfile drops the same.
BUILD_ONLY_SUFFIXES = (".pyi", ".pyx", ".pxd", ".c", ".h")
# Extension modules lose their symbol tables (about 40 MB). The libraries auditwheel bundled in `<package>.libs`
# stay as they are: patchelf rewrote them, and stripping them breaks loading ("ELF load command address/offset
# not page-aligned").
STRIP = ("strip", "--strip-unneeded")
# Wheels for the image's glibc (bookworm: 2.36), whatever the host's is.
PYTHON_PLATFORM = "x86_64-manylinux_2_36"
# The Containerfile's environment, user and entrypoint.
IMAGE_ENV = (
    "PATH=/opt/kcost/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "PYTHONDONTWRITEBYTECODE=1",
    "PYTHONUNBUFFERED=1",
    "HOME=/tmp",
    "MPLCONFIGDIR=/tmp",
    "KCOST_WEBHOOK_CERT_DIR=/tmp/kcost-webhook-certs",
    "KCOST_DATABASE_URL=sqlite+aiosqlite:////tmp/kcost-history.db",
)
ENTRYPOINT_SCRIPT = """\
#!/opt/kcost/bin/python
import sys

from kcost.cli.main import main

sys.exit(main())
"""


class ImageBuildError(RuntimeError):
    """A step of the image build failed; the message names it and quotes its output."""


@dataclass(frozen=True)
class BuiltImage:
    """An OCI archive and the reference it is imported as."""

    archive: Path
    reference: str
    size_bytes: int

    @property
    def repository(self) -> str:
        return self.reference.rsplit(":", 1)[0]

    @property
    def tag(self) -> str:
        return self.reference.rsplit(":", 1)[1]


def images_dir() -> Path:
    return binaries.cache_root() / "images"


def build_pause_image(console: Console) -> BuiltImage:
    """The sandbox image: the pause binary alone (cached by the binary's content)."""
    binaries.ensure_built(console, (binaries.PAUSE,))
    pause = binaries.PAUSE.binary("pause")
    digest = _hash_files([pause])[:12]
    archive = images_dir() / f"pause-{digest}.tar"
    if not archive.exists():
        with tempfile.TemporaryDirectory(prefix="kcost-pause-") as scratch:
            layer = Path(scratch) / "layer.tar"
            with tarfile.open(layer, "w") as tar:
                tar.add(pause, arcname="pause")
            layout = Path(scratch) / "oci"
            _new_layout(layout, "dev")
            _umoci("raw", "add-layer", f"--image={layout}:dev", str(layer))
            _umoci("config", f"--image={layout}:dev", "--config.entrypoint=/pause")
            _archive(layout, archive)
    return BuiltImage(archive, f"{PAUSE_REPOSITORY}:dev", archive.stat().st_size)


def build_kcost_image(console: Console) -> BuiltImage:
    """kcost's image from this checkout; only the layers whose inputs changed are rebuilt."""
    started = time.monotonic()
    base = _base_layer(console)
    deps = _deps_layer(console)
    layout = _base_and_deps_layout(console, base, deps)
    code_layer, code_digest = _code_layer()
    tag = f"dev-{code_digest[:12]}"
    archive = images_dir() / f"kcost-{tag}.tar"
    if not archive.exists():
        with tempfile.TemporaryDirectory(prefix="kcost-image-", dir=images_dir()) as scratch:
            image = Path(scratch) / "oci"
            # Blobs are content-addressed and never rewritten: links share them with the cached layout.
            subprocess.run(["cp", "-al", str(layout), str(image)], check=True)
            _umoci("tag", f"--image={image}:deps", tag)
            _umoci("rm", f"--image={image}:deps")
            _umoci("raw", "add-layer", f"--image={image}:{tag}", str(code_layer))
            config = [f"--config.env={variable}" for variable in IMAGE_ENV]
            config += ["--config.user=10001:10001", "--config.workingdir=/tmp"]
            config += ["--config.entrypoint=/opt/kcost/bin/kcost", "--config.cmd=--help"]
            config += ["--config.label=org.opencontainers.image.title=kcost"]
            _umoci("config", f"--image={image}:{tag}", *config)
            _umoci("gc", f"--layout={image}")
            _archive(image, archive)
        # One archive per code version would fill the cache: keep the newest only.
        for older in images_dir().glob("kcost-dev-*.tar"):
            if older != archive:
                older.unlink()
    code_layer.unlink()
    built = BuiltImage(archive, f"{KCOST_REPOSITORY}:{tag}", archive.stat().st_size)
    console.print(f"image {built.reference}: {built.size_bytes / 2**20:.0f} MiB in {time.monotonic() - started:.0f} s")
    return built


def _base_layer(console: Console) -> Path:
    recipe = "\n".join([DEBIAN_SUITE, *BASE_PACKAGES, MERGED_USR_HOOKS, *BASE_HOOKS])
    layer = images_dir() / f"base-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}.tar"
    if layer.exists():
        return layer
    images_dir().mkdir(parents=True, exist_ok=True)
    partial = layer.with_suffix(".partial")
    command = ["mmdebstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}"]
    command += [f"--hook-dir={MERGED_USR_HOOKS}", *(f"--customize-hook={hook}" for hook in BASE_HOOKS)]
    command += ["--format=tar", DEBIAN_SUITE, str(partial)]
    with progress.step(console, "building the image's Debian rootfs with mmdebstrap (first run only, minutes)…"):
        _run(command, "mmdebstrap")
    partial.replace(layer)
    return layer


def _runtime_requirements() -> str:
    """The runtime dependencies within the lock's pins (the lock also pins the development tools)."""
    uv = str(Path(sys.executable).with_name("uv"))
    command = [uv, "pip", "compile", "pyproject.toml", "-p", "3.11", "--constraint", "requirements.lock"]
    command += ["--quiet", "--no-header", "--no-annotate"]
    return _run(command, "uv pip compile", cwd=REPO_ROOT)


def _deps_layer(console: Console) -> Path:
    requirements = _runtime_requirements()
    # Keyed by what goes in and what is taken out.
    recipe = "\n".join([requirements, *TEST_SUITE_DIRS, *BUILD_ONLY_SUFFIXES, *STRIP])
    layer = images_dir() / f"deps-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}.tar"
    if layer.exists():
        return layer
    uv = str(Path(sys.executable).with_name("uv"))
    with (
        tempfile.TemporaryDirectory(prefix="kcost-deps-") as scratch,
        progress.step(console, "installing the locked dependencies into the image's layer…"),
    ):
        root = Path(scratch) / "root"
        pins = Path(scratch) / "runtime.txt"
        pins.write_text(requirements)
        target = root / SITE_PACKAGES
        # Copies, not links into uv's cache: `strip` below rewrites files in place, and linked ones are shared by
        # every venv made from that cache (a process running on one crashes).
        command = [uv, "pip", "install", "--quiet", "--link-mode=copy", f"--target={target}", "--python-version=3.11"]
        command += [f"--python-platform={PYTHON_PLATFORM}", "--no-deps", "-r", str(pins)]
        _run(command, "uv pip install (dependencies)")
        # `--target` writes console scripts for the host's Python; the image has no use for them.
        shutil.rmtree(target / "bin", ignore_errors=True)
        for suite in TEST_SUITE_DIRS:
            for folder in sorted(target.glob(f"**/{suite}"), reverse=True):
                shutil.rmtree(folder, ignore_errors=True)
        _slim(target)
        # Bytecode now: the root filesystem is read-only at run time (3.11's format on both sides).
        _run([sys.executable, "-m", "compileall", "-q", "-j0", str(target)], "compileall")
        partial = layer.with_suffix(".partial")
        _tar_tree(root, partial)
        partial.replace(layer)
    return layer


def _slim(site_packages: Path) -> None:
    """Build-only files removed, extension modules stripped (not the bundled libraries, see ``STRIP``)."""
    for path in sorted(site_packages.rglob("*")):
        if path.is_file() and path.suffix in BUILD_ONLY_SUFFIXES:
            path.unlink()
    modules = [
        str(path)
        for path in sorted(site_packages.rglob("*.so"))
        if path.is_file() and not any(part.endswith(".libs") for part in path.relative_to(site_packages).parts)
    ]
    if modules:
        _run([*STRIP, *modules], "strip (binutils)")


def _base_and_deps_layout(console: Console, base: Path, deps: Path) -> Path:
    layout = images_dir() / f"layout-{base.stem.removeprefix('base-')}-{deps.stem.removeprefix('deps-')}"
    if layout.exists():
        return layout
    partial = layout.with_name(layout.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with progress.step(console, "compressing the base and dependency layers (once per lock)…"):
        _new_layout(partial, "deps")
        _umoci("raw", "add-layer", f"--image={partial}:deps", str(base))
        _umoci("raw", "add-layer", f"--image={partial}:deps", str(deps))
    partial.replace(layout)
    return layout


def _code_layer() -> tuple[Path, str]:
    """kcost's package (no dependencies) and its entrypoint; returns the layer and its content hash."""
    uv = str(Path(sys.executable).with_name("uv"))
    scratch = Path(tempfile.mkdtemp(prefix="kcost-code-", dir=images_dir()))
    root = scratch / "root"
    target = root / SITE_PACKAGES
    command = [uv, "pip", "install", "--quiet", f"--target={target}", "--python-version=3.11", "--no-deps"]
    command += ["--reinstall", "--no-cache", str(REPO_ROOT)]
    _run(command, "uv pip install (kcost)")
    shutil.rmtree(target / "bin", ignore_errors=True)
    _run([sys.executable, "-m", "compileall", "-q", "--invalidation-mode=unchecked-hash", str(target)], "compileall")
    entrypoint = root / "opt/kcost/bin/kcost"
    entrypoint.parent.mkdir(parents=True)
    entrypoint.write_text(ENTRYPOINT_SCRIPT)
    entrypoint.chmod(0o755)
    digest = _hash_files(sorted(path for path in root.rglob("*") if path.is_file() and "__pycache__" not in path.parts))
    layer = images_dir() / f"code-{digest[:12]}.tar"
    _tar_tree(root, layer)
    shutil.rmtree(scratch)
    return layer, digest


def _hash_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.name).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _tar_tree(root: Path, destination: Path) -> None:
    def owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(destination, "w") as tar:
        for child in sorted(root.iterdir()):
            tar.add(child, arcname=child.name, filter=owned_by_root)


def _new_layout(layout: Path, tag: str) -> None:
    _umoci("init", f"--layout={layout}")
    _umoci("new", f"--image={layout}:{tag}")
    _umoci("config", f"--image={layout}:{tag}", "--os=linux", "--architecture=amd64")


def _archive(layout: Path, archive: Path) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".partial")
    _run(["tar", "-C", str(layout), "-cf", str(partial), "."], "tar")
    partial.replace(archive)


def _umoci(*args: str) -> None:
    _run(["umoci", *args], f"umoci {args[0]}")


def _run(command: list[str], what: str, cwd: Path | None = None) -> str:
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-20:])
        raise ImageBuildError(f"{what} failed (exit {result.returncode}):\n{tail}")
    return result.stdout
