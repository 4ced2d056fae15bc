"""The sample plugin distribution, installed once for the session's plugin tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SAMPLE = Path(__file__).parent / "sample_dist"


@pytest.fixture(scope="session")
def sample_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install`` of the sample distribution into a folder of its own, once."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(SAMPLE),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert list(target.glob("madoguchi_sample_plugin-1.2.0.dist-info"))
    assert list(target.glob("madoguchi_sample/migrations/*.py"))
    return target


@pytest.fixture(scope="module")
def installed_sample(sample_site: Path) -> Iterator[Path]:
    """The sample installed for one test module: its folder on ``sys.path``, so that its
    entry point is found; other modules' hosts and commands do not see it. Its modules stay
    imported (its table model may be defined only once per process)."""
    sys.path.insert(0, str(sample_site))
    try:
        yield sample_site
    finally:
        sys.path.remove(str(sample_site))
