"""The layers point down only: blueprints → shared web code → services →
models. No blueprint imports another, and the shared web code (app/web/, the
error handlers, the CLI, …) imports none: what two need lives in app/web/ or
in a service. Every module under app/ and scheduler/ is parsed; its layer
follows from its path (LAYERS); every import in it, those inside functions
too, is checked against the imports its layer may not make (FORBIDDEN)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

BLUEPRINTS = ("admin", "alerts", "api", "auth", "console", "dashboard", "holds", "hotline", "main", "outbox",
              "placement", "reports", "shelter", "simulator")

# Where a module is → its layer; the longest matching path decides, and every
# module must match one (a new package needs a line here).
LAYERS = {
    "app/__init__.py": "factory",  # builds the app from every layer
    "app/clock.py": "base",
    "app/config.py": "base",
    "app/extensions.py": "base",
    "app/models/": "models",
    "app/services/": "services",
    "app/texts/": "services",
    "app/geo/": "services",
    "scheduler/": "scheduler",
    "app/web/": "web",
    "app/errors.py": "web",
    "app/presenters.py": "web",
    "app/labels.py": "web",
    "app/cli.py": "web",
    **{f"app/{name}/": "blueprint" for name in BLUEPRINTS},
}

BLUEPRINT_PACKAGES = tuple(f"app.{name}" for name in BLUEPRINTS)
WEB = ("app.web", "app.errors", "app.presenters", "app.labels", "app.cli", *BLUEPRINT_PACKAGES)
SERVICES = ("app.services", "app.texts")

FORBIDDEN = {
    "base": ("app.models", *SERVICES, *WEB),
    "models": (*SERVICES, *WEB),
    "services": WEB,
    "scheduler": WEB,
    "web": BLUEPRINT_PACKAGES,
    "blueprint": (),  # besides: no other blueprint (see violations)
    "factory": (),
}


def layer_of(path: str) -> str:
    matches = [prefix for prefix in LAYERS if path == prefix or (prefix.endswith("/") and path.startswith(prefix))]
    if not matches:
        raise LookupError(f"{path} belongs to no layer: add it to LAYERS in tests/test_layers.py")
    return LAYERS[max(matches, key=len)]


def _module_name(path: str) -> str:
    parts = path.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: str, source: str):
    """(line, dotted name) for every import in the module, wherever it is; for
    `from a import b` the name is a.b (b may be a module or a name in a)."""
    package = _module_name(path) if path.endswith("__init__.py") else _module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(source, path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                yield node.lineno, base if alias.name == "*" else f"{base}.{alias.name}"


def _within(name: str, packages) -> str | None:
    return next((package for package in packages if name == package or name.startswith(package + ".")), None)


def violations(path: str, source: str) -> list[str]:
    layer = layer_of(path)
    own_blueprint = path.split("/")[1] if layer == "blueprint" else None
    other_blueprints = [package for package in BLUEPRINT_PACKAGES if package != f"app.{own_blueprint}"]
    found = []
    for line, name in imported_names(path, source):
        if package := _within(name, FORBIDDEN[layer]):
            found.append(f"{path}:{line}: {layer} imports {name} ({package})")
        elif layer == "blueprint" and (package := _within(name, other_blueprints)):
            found.append(f"{path}:{line}: blueprint {own_blueprint} imports blueprint {package} ({name})")
    return found


def modules() -> list[str]:
    return sorted(path.relative_to(ROOT).as_posix()
                  for folder in ("app", "scheduler") for path in (ROOT / folder).rglob("*.py"))


def test_every_module_has_a_layer():
    assert len(modules()) > 100
    for path in modules():
        layer_of(path)


def test_no_import_crosses_a_layer():
    found = [violation for path in modules() for violation in violations(path, (ROOT / path).read_text())]
    assert found == []


@pytest.mark.parametrize(("path", "source"), [
    ("app/models/example.py", "from app.services.core import audit\n"),
    ("app/models/example.py", "from app.web.auth import current_actor\n"),
    ("app/services/registry/example.py", "def lazy():\n    from app.web.auth import current_actor\n"),
    ("app/services/alerts/example.py", "import app.errors\n"),
    ("app/services/example.py", "from app import labels\n"),
    ("app/texts/example.py", "from app.hotline import sms\n"),
    ("app/services/hotline/example.py", "from ...presenters import kind_label\n"),
    ("scheduler/example.py", "from app.cli import init_app\n"),
    ("app/shelter/example.py", "from app.holds.actions import carry_out\n"),
    ("app/console/example.py", "from ..hotline.sms import deliver_now\n"),
    ("app/cli.py", "from app.hotline import simulator\n"),
    ("app/web/example.py", "from app.api.serializers import current_state_json\n"),
    ("app/alerts/example.py", "class Form:\n    def field(self):\n        from app import admin\n"),
])
def test_the_checker_finds_an_import_across_layers(path, source):
    assert len(violations(path, source)) == 1


@pytest.mark.parametrize(("path", "source"), [
    ("app/models/example.py", "from app.extensions import db\nfrom app.models.types import UTCDateTime\n"),
    ("app/services/example.py", "from app.models import Alert\nfrom app.texts import sms\nfrom . import demo\n"),
    ("app/shelter/example.py", "from app.shelter import bp\nfrom app.web.auth import roles_required\n"
                               "from app.services.placement import holds\nfrom .routes import page\n"),
    ("app/web/example.py", "from app.presenters import kind_label\nfrom app.services.delivery import outbox\n"),
])
def test_the_checker_lets_downward_imports_pass(path, source):
    assert violations(path, source) == []


def test_a_module_outside_every_layer_is_refused():
    with pytest.raises(LookupError):
        layer_of("app/newpackage/module.py")
