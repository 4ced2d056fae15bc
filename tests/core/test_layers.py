"""The import contracts in pyproject.toml ([tool.importlinter]) refuse an upward import, a plugin
importing a core module, and an import cycle: lint-imports runs over a copy of the source with
one such import added."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _copy(tmp_path: Path) -> Path:
    for package in ("core", "plugins"):
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "static", "templates", "locale"),
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, ahead of the installed (editable) worktree.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _add_import(tree: Path, module: str, line: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = tree / module.replace(".", "/") / "__init__.py"
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_the_source_as_it_is_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint(_copy(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "refusal"),
    [
        (  # the database layer reaching up into the web layer
            "core.db.base",
            "from core.web import errors as _upward  # noqa: E402",
            "core.db is not allowed to import core.web",
        ),
        (  # tenancy reaching up into identity: also closes a cycle (identity imports tenancy)
            "core.tenancy.models",
            "from core.identity import models as _upward  # noqa: E402",
            "core.tenancy is not allowed to import core.identity",
        ),
        (  # the same import seen as a cycle between packages
            "core.tenancy.models",
            "from core.identity import models as _upward  # noqa: E402",
            "No import cycles between the core's packages BROKEN",
        ),
        (  # a plugin importing a core module instead of a public name of `core`
            "plugins.hotline.hooks",
            "from core.db.session import session_tenant_id as _private  # noqa: E402",
            "plugins is not allowed to import core.db",
        ),
    ],
)
def test_a_forbidden_import_breaks_a_contract(
    tmp_path: Path, module: str, line: str, refusal: str
) -> None:
    tree = _copy(tmp_path)
    _add_import(tree, module, line)
    result = _lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert refusal in result.stdout
