"""The library's shape, checked on its source: small modules and functions, no private
imports of dependencies outside the adapters that pin them."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    p for package in ("canao_ray", "device_profilers", "search_spaces") for p in (ROOT / package).rglob("*.py")
)
#: The modules allowed to import a dependency's private modules, and what each imports:
#: Optuna has no public hypervolume; PyTorch's public ONNX export rebuilds its registry per call.
PRIVATE_IMPORT_ADAPTERS = {
    ROOT / "canao_ray" / "results" / "hypervolume.py": ["optuna._hypervolume"],
    ROOT / "device_profilers" / "_torch_onnx.py": ["torch.onnx._internal.exporter"] * 2,
}
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 60


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_stay_small(path):
    assert len(path.read_text().splitlines()) <= MAX_MODULE_LINES
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{node.name} at line {node.lineno} has {length} lines"


def _private_imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    first_party = ("canao_ray", "device_profilers", "search_spaces")
    return [
        n
        for n in names
        if not n.startswith(first_party)
        and any(part.startswith("_") and not part.startswith("__") for part in n.split("."))
    ]


def test_private_modules_of_dependencies_are_imported_in_their_adapters_only():
    offenders = {str(p.relative_to(ROOT)): _private_imports(p) for p in MODULES if p not in PRIVATE_IMPORT_ADAPTERS}
    assert {path: names for path, names in offenders.items() if names} == {}
    for adapter, imports in PRIVATE_IMPORT_ADAPTERS.items():
        assert _private_imports(adapter) == imports
