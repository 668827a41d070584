"""Layering: the runtime (import edgepose, Estimator on every backend, detectors, drawing, the
webcam app's modules) never imports torch, torchvision, nncf or tensorflow; per folder, the numpy
core imports only itself and the runtime (edgepose/runtime/, video, commands, bench) never reaches the torch
side (nn, data, train, export, evaluate); and no import cycle exists inside the package."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _tiny_models import make_onnx, make_tflite

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("torch", "torchvision", "nncf", "tensorflow")

SCRIPT = r"""
import json, sys
import numpy as np
import edgepose
from edgepose import Estimator
from edgepose.runtime.detect import MotionDetector
from edgepose.runtime.draw import draw_result
import edgepose.video
frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
for path, backend in ((sys.argv[1], None), (sys.argv[1], "openvino"), (sys.argv[2], None)):
    with Estimator(path, backend=backend, running_mode="video", detector=MotionDetector()) as est:
        for i in range(3):
            draw_result(frame.copy(), est(frame, timestamp=i / 30))
sys.path.insert(0, sys.argv[3])
import webcam, bench  # the apps import only the runtime
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in %r)))
"""


def test_runtime_never_imports_training_stacks(tmp_path: Path) -> None:
    onnx_path = make_onnx(tmp_path / "tiny.onnx")
    tflite_path = make_tflite(tmp_path / "tiny.tflite")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT % (FORBIDDEN,), str(onnx_path), str(tflite_path), str(ROOT / "apps")],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded == [], f"runtime imported {loaded}"


@pytest.mark.parametrize("module", ["edgepose.runtime.estimator", "edgepose.runtime.backends.onnxruntime_backend",
                                    "edgepose.runtime.backends.tflite_backend", "edgepose.runtime.backends.openvino_backend"])
def test_modules_do_not_import_runtimes_at_import_time(module: str) -> None:
    code = (f"import sys, {module}; print(sorted(m for m in ('onnxruntime', 'openvino', 'ai_edge_litert') "
            f"if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# ---- no import cycles inside the package ----------------------------------------------------------
def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def package_modules(root: Path = ROOT) -> dict[str, Path]:
    """``edgepose.x.y`` -> its file, for every module of the package."""
    mods = {}
    for path in sorted((root / "edgepose").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = path
    return mods


def import_graph(mods: dict[str, Path], *, annotations: bool = False) -> dict[str, set[str]]:
    """Module -> the package modules it imports, at any depth of its code (functions too), except
    under ``if TYPE_CHECKING:`` (annotations only, never run) unless ``annotations``.
    ``from a.b import c`` points at ``a.b.c`` when that is a module, else at ``a.b``."""

    def owner(name: str) -> str:
        while name not in mods and "." in name:
            name = name.rsplit(".", 1)[0]
        return name

    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        found: set[str] = set()
        package = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]

        def visit(node: ast.AST) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and _is_type_checking(child) and not annotations:
                    for other in child.orelse:
                        visit(other)
                    continue
                if isinstance(child, ast.Import):
                    found.update(owner(a.name) for a in child.names if a.name.split(".")[0] == "edgepose")
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        base = ".".join(package[:len(package) - child.level + 1] + ([base] if base else []))
                    if base.split(".")[0] == "edgepose":
                        found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in mods else owner(base)
                                     for a in child.names)
                visit(child)

        visit(ast.parse(path.read_text(encoding="utf-8")))
        found.discard(mod)
        graph[mod] = found
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return cycles


def test_no_import_cycles_inside_the_package() -> None:
    graph = import_graph(package_modules())
    assert len(graph) > 50 and "edgepose.runtime.estimator" in graph["edgepose"]
    cycles = import_cycles(graph)
    detail = "; ".join(" <-> ".join(c) for c in cycles)
    assert cycles == [], f"import cycles: {detail}"


def test_no_import_cycles_even_through_annotations() -> None:
    """A circle hidden behind ``if TYPE_CHECKING:`` is still a circle in the design (result <->
    pose_json was one): the package has none, counting annotation-only imports too."""
    cycles = import_cycles(import_graph(package_modules(), annotations=True))
    detail = "; ".join(" <-> ".join(c) for c in cycles)
    assert cycles == [], f"import cycles through TYPE_CHECKING imports: {detail}"


def test_the_cycle_finder_finds_cycles(tmp_path: Path) -> None:
    pkg = tmp_path / "edgepose"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from edgepose.a import x\n")
    (pkg / "a.py").write_text("def x():\n    from edgepose.sub import b\n")  # a lazy import still counts
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from .. import a\nfrom typing import TYPE_CHECKING\n"
                                      "if TYPE_CHECKING:\n    from edgepose import c\n")
    (pkg / "c.py").write_text("import edgepose.a\n")
    graph = import_graph(package_modules(tmp_path))
    assert graph["edgepose.sub.b"] == {"edgepose.a"}  # the TYPE_CHECKING import is not an arrow
    assert import_cycles(graph) == [["edgepose.a", "edgepose.sub.b"]]
    with_annotations = import_graph(package_modules(tmp_path), annotations=True)
    assert with_annotations["edgepose.sub.b"] == {"edgepose.a", "edgepose.c"}  # ... unless asked for
    assert import_cycles(with_annotations) == [["edgepose.a", "edgepose.c", "edgepose.sub.b"]]


# ---- which half a folder belongs to ----------------------------------------------------------------
#: the numpy core, shared by both halves (the package's __init__ is the public API over the runtime)
CORE = ("edgepose.errors", "edgepose.skeleton", "edgepose.geometry", "edgepose.preprocess", "edgepose.codecs",
        "edgepose.zoo", "edgepose.download", "edgepose.checks", "edgepose.atomic", "edgepose.version")
#: torch-free programs over the runtime
RUNTIME = ("edgepose.runtime", "edgepose.video", "edgepose.commands", "edgepose.bench")
#: the torch side
TORCH_SIDE = ("edgepose.nn", "edgepose.data", "edgepose.train", "edgepose.export", "edgepose.evaluate",
              "edgepose.yardstick")
FORBIDDEN_STACKS = (*FORBIDDEN, "pycocotools", "litert_torch")


def _in(module: str, folders: tuple[str, ...]) -> bool:
    return any(module == f or module.startswith(f + ".") for f in folders)


def third_party_imports(path: Path) -> set[str]:
    """Top-level names of the non-edgepose packages a module imports (TYPE_CHECKING blocks aside)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(a.name.split(".")[0] for a in child.names)
            elif isinstance(child, ast.ImportFrom) and not child.level and child.module:
                found.add(child.module.split(".")[0])
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found - {"edgepose"}


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_module_belongs_to_one_half() -> None:
    mods = package_modules()
    homeless = [m for m in mods if m not in ("edgepose", "edgepose.cli")
                and not _in(m, CORE + RUNTIME + TORCH_SIDE)]
    assert homeless == [], f"modules outside core/runtime/torch folders: {homeless}"


def test_core_and_runtime_never_reach_the_torch_side() -> None:
    """Per folder, statically (every import at any depth, lazy ones too): the core imports only the core;
    the runtime imports the core and itself; neither reaches torch, torchvision, nncf, tensorflow,
    pycocotools or litert_torch through any chain of package imports."""
    mods = package_modules()
    graph = import_graph(mods)
    stacks = {m: third_party_imports(p) for m, p in mods.items()}
    problems = []
    for mod in mods:
        if _in(mod, CORE):
            up = sorted(d for d in graph[mod] if not _in(d, CORE))
            if up:
                problems.append(f"core module {mod} imports {up}")
        if _in(mod, CORE + RUNTIME) or mod == "edgepose":
            side = sorted(d for d in graph[mod] if _in(d, TORCH_SIDE))
            if side:
                problems.append(f"{mod} imports the torch side {side}")
            for dep in reachable(graph, mod):
                bad = sorted(stacks[dep] & set(FORBIDDEN_STACKS))
                if bad:
                    problems.append(f"{mod} reaches {dep}, which imports {bad}")
    assert problems == [], "\n".join(problems)


def test_the_folder_rule_catches_a_torch_import(tmp_path: Path) -> None:
    pkg = tmp_path / "edgepose"
    (pkg / "runtime").mkdir(parents=True)
    (pkg / "nn").mkdir()
    for init in (pkg, pkg / "runtime", pkg / "nn"):
        (init / "__init__.py").write_text("")
    (pkg / "runtime" / "estimator.py").write_text("def load():\n    from edgepose.nn import build\n")
    (pkg / "nn" / "build.py").write_text("import torch\n")
    mods = package_modules(tmp_path)
    graph = import_graph(mods)
    assert "edgepose.nn.build" in reachable(graph, "edgepose.runtime.estimator")
    assert third_party_imports(mods["edgepose.nn.build"]) == {"torch"}
