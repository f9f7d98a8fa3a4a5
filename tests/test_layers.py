"""The package's layers (pyproject.toml, [tool.importlinter]) name every module of the package,
so a new module cannot escape them; `lint-imports` (run by `make test`) checks the contracts."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_module_of_the_package_is_in_a_layer():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"]
    classified = set()
    for contract in contracts:
        for layer in contract.get("layers", []):
            classified |= {f"simulation.{name.strip()}"
                           for name in layer.replace(":", "|").split("|")}
        classified |= set(contract.get("source_modules", []))
    package = ROOT / "simulation"
    modules = {f"simulation.{path.stem}" for path in package.glob("*.py")
               if path.stem != "__init__"}
    modules |= {f"simulation.{path.parent.name}" for path in package.glob("*/__init__.py")}
    assert modules - classified == set(), "add these modules to a contract in pyproject.toml"
