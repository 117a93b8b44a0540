"""The house's one-way rule: the import contracts hold today and catch an upward import.

`make lint` runs `lint-imports` with the contracts in pyproject.toml. These tests run the same
tool on a copy of the package, once as it is and once with one upward import planted, so a
contract that silently stopped checking anything would fail here.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import leadform
from tests.conftest import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
WINGS = ("booking", "calendars", "messages", "desk", "newsletter", "readiness")


def _copy_package(tmp_path: Path) -> Path:
    """Copy leadform and pyproject.toml into `tmp_path`; return the copied package folder."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    package = tmp_path / "leadform"
    shutil.copytree(
        Path(leadform.__file__).parent,
        package,
        ignore=shutil.ignore_patterns("__pycache__", "templates", "static", "migrations"),
    )
    return package


def _lint(tmp_path: Path) -> subprocess.CompletedProcess:
    """Run lint-imports in `tmp_path`, where the copied package comes first on the path."""
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _plant(module: Path, line: str) -> None:
    """Add an import line at the top of `module`, after its docstring."""
    source = module.read_text()
    end = source.index('"""', 3) + 3
    module.write_text(source[:end] + "\n" + line + "\n" + source[end:])


def test_contracts_hold_on_the_real_package(tmp_path):
    _copy_package(tmp_path)
    result = _lint(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("messages/outbox.py", "import leadform.booking.slots  # noqa"),
        ("booking/views.py", "from leadform.desk import auth  # noqa"),
        ("messages/webhooks.py", "from leadform.desk import reports  # noqa"),
        ("models.py", "from leadform.messages import senders  # noqa"),
        ("health.py", "import leadform.booking.reservations  # noqa"),
        ("newsletter/services.py", "from leadform.booking import tokens  # noqa"),
        ("newsletter/feed.py", "import leadform.desk.export  # noqa"),
        ("newsletter/tokens.py", "import leadform.calendars  # noqa"),
        ("messages/outbox.py", "import leadform.newsletter.models  # noqa"),
        ("models.py", "import leadform.newsletter.models  # noqa"),
        ("calendars/sync.py", "from leadform.booking import slots  # noqa"),
        ("messages/invites.py", "import leadform.calendars.busy  # noqa"),
        ("readiness/services.py", "from leadform.booking import reservations  # noqa"),
        ("readiness/scoring.py", "import leadform.newsletter.models  # noqa"),
        ("messages/rendering.py", "import leadform.readiness.scoring  # noqa"),
        ("config.py", "import leadform.readiness.questions  # noqa"),
    ],
)
def test_an_upward_import_breaks_a_contract(tmp_path, module, upward):
    package = _copy_package(tmp_path)
    _plant(package / module, upward)
    result = _lint(tmp_path)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout


@pytest.mark.parametrize("wing", WINGS)
def test_each_wing_says_what_lives_there_and_what_it_may_import(wing):
    doc = (Path(leadform.__file__).parent / wing / "__init__.py").read_text()
    assert "Lives here" in doc
    assert "May import" in doc
