"""The README names files and folders of the project: each must exist, so that
a newcomer who follows it finds what it points to (the code layout above all)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP_LEVEL = ("app/", "tests/", "scheduler/", "bench/", "migrations/", "static/")
# Files the app makes on first start, not in the repository.
MADE_AT_RUN_TIME = ("instance/",)


def named_paths(text: str) -> list[str]:
    """Paths in backticks that start at a top-level folder; `<area>`-style
    placeholders stand for any name and are left out."""
    return [path for path in re.findall(r"`([a-z_]+/[^`\s]*)`", text)
            if path.startswith(TOP_LEVEL) and "<" not in path]


def test_every_path_the_readme_names_exists():
    paths = named_paths((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(paths) > 10  # the code layout is there
    missing = [path for path in paths if not (ROOT / path).exists()]
    assert missing == []


def test_the_check_notices_a_path_that_is_gone():
    assert named_paths("see `app/services/gone.py` and `app/<area>/`") == ["app/services/gone.py"]
    assert not (ROOT / "app/services/gone.py").exists()
