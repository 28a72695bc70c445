"""The image recipe: a Containerfile and its build context, rendered from an environment.

Pure functions. Nothing a user sent is pasted into a command: package names and Python
requirements become files of the context that setup.sh reads, files are COPY'd, and
environment variables become ENV lines with every special character escaped.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

from shared.environment import RECIPE_VERSION, lock_install, python_requirements
from shared.schemas import HOST_BASE, check_image
from shared.specs import InspectionSpec

# The non-root user runs are made as; a fixed uid so run folders can be shared with it.
RUN_UID = 10001
HOME = "/home/tessera"
TOOLS = "/opt/tessera"
VENV = f"{TOOLS}/venv"
PROBE_PATH = f"{TOOLS}/hwinfo.py"
SETUP = Path(__file__).with_name("setup.sh")
LABEL_HASH = "io.tessera.spec-hash"
LABEL_RECIPE = "io.tessera.recipe-version"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEX = re.compile(r"^[0-9a-f]{64}$")


class RecipeError(ValueError):
    """An input the recipe cannot carry safely (validation should have refused it)."""


@dataclass(frozen=True)
class Recipe:
    """What a build backend needs: the Containerfile and the other files of the context."""

    containerfile: str
    context: dict[str, tuple[bytes, int]] = field(default_factory=dict)  # path: (data, mode)

    def write(self, folder: Path) -> None:
        """Lay the context out in `folder` (created; paths checked to stay inside it)."""
        root = folder.resolve()
        root.mkdir(parents=True, exist_ok=True)
        (root / "Containerfile").write_text(self.containerfile)
        for relative, (data, mode) in self.context.items():
            target = (root / relative).resolve()
            if not target.is_relative_to(root) or target == root:
                raise RecipeError(f"{relative!r} leaves the build context")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            target.chmod(mode)


def quote(value: str) -> str:
    """A Containerfile double-quoted word: backslash, quote and $ escaped; no line breaks."""
    if any(char in value for char in "\n\r\x00"):
        raise RecipeError("a value with a line break or NUL cannot be written into a recipe")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def env_line(name: str, value: str) -> str:
    if not _ENV_NAME.fullmatch(name):
        raise RecipeError(f"{name!r} is not an environment variable name")
    return f"ENV {name}={quote(value)}"


def _run(step: str, *args: str) -> str:
    words = ["/bin/sh", f"{TOOLS}/setup.sh", step, *args]
    return "RUN [" + ", ".join(quote(word) for word in words) + "]"


def _file_path(path: str) -> str:
    normal = posixpath.normpath(path)
    if path.startswith("/") or normal.startswith("..") or normal in (".", "") or "\\" in path:
        raise RecipeError(f"file path {path!r} must stay inside the working folder")
    return f"files/{normal}"


def render(
    spec: InspectionSpec,
    spec_hash: str,
    *,
    probe: bytes,
    pip_index_url: str | None = None,
    ca_bundle: bytes | None = None,
) -> Recipe:
    """The recipe of this environment; `probe` is the hwinfo probe's source."""
    if spec.base == HOST_BASE:
        raise RecipeError("base 'host' is not an image")
    check_image(spec.base)
    if not _HEX.fullmatch(spec_hash):
        raise RecipeError("the spec hash must be a sha256 hex digest")
    pipfile = lock_install(spec)
    requirements, locked = (spec.python_tools(), False) if pipfile else python_requirements(spec)
    context: dict[str, tuple[bytes, int]] = {
        "tessera/setup.sh": (SETUP.read_bytes(), 0o755),
        "tessera/hwinfo.py": (probe, 0o644),
        "tessera/packages.txt": (
            "".join(f"{p}\n" for p in sorted(set(spec.packages))).encode(),
            0o644,
        ),
        "tessera/requirements.txt": ("".join(f"{r}\n" for r in requirements).encode(), 0o644),
    }
    if locked:
        context["tessera/requirements-locked"] = (b"", 0o644)
    if pipfile is not None:  # setup.sh's python step runs `<manager> install --deploy` on them
        context["tessera/pipenv/Pipfile"] = (pipfile.pipfile.encode(), 0o644)
        context["tessera/pipenv/Pipfile.lock"] = (pipfile.lock.encode(), 0o644)
        context["tessera/package-manager"] = (pipfile.manager.encode(), 0o644)
    if spec.upgrade_pip:
        context["tessera/upgrade-pip"] = (b"", 0o644)
    if pip_index_url:
        quote(pip_index_url)  # the same no-line-break rule as every value
        context["tessera/pip-index-url"] = (pip_index_url.encode(), 0o644)
    if ca_bundle:
        context["tessera/ca.pem"] = (ca_bundle, 0o644)
    for item in spec.files:
        context[_file_path(item.path)] = (
            item.content.encode(),
            0o755 if item.executable else 0o644,
        )

    lines = [
        f"# Rendered by Tessera (recipe {RECIPE_VERSION}) for environment {spec_hash}.",
        f"FROM {spec.base}",
        f"LABEL {LABEL_HASH}={quote(spec_hash)} {LABEL_RECIPE}={quote(str(RECIPE_VERSION))}",
        "USER root",
        f"COPY tessera/ {TOOLS}/",
    ]
    if spec.update:
        lines.append(_run("update"))
    lines.append(_run("packages"))  # the user's packages, and python3 when the base lacks it
    lines.append(_run("python"))  # a venv with the requirements, when there are any
    lines.append(_run("user", str(RUN_UID)))
    if requirements or spec.upgrade_pip:
        lines.append(f"ENV PATH={VENV}/bin:${{PATH}}")
        lines.append(f"ENV VIRTUAL_ENV={quote(VENV)}")
    if spec.files:
        lines.append(f"COPY --chown={RUN_UID}:{RUN_UID} files/ {HOME}/")
    lines.append(f"ENV HOME={quote(HOME)}")
    lines.extend(env_line(name, value) for name, value in sorted(spec.environment.items()))
    lines += [f"WORKDIR {HOME}", f"USER {RUN_UID}:{RUN_UID}"]
    return Recipe("\n".join(lines) + "\n", context)
