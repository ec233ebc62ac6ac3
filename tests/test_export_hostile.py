"""Exported modules hold the network file's values as data: no name or option becomes code.

Every generated module is parsed with ``ast``: its top level must be only the statements
the exporter always writes, and its syntax tree must be the one that plain names give
once each hostile name is mapped back to its plain stand-in, so the names changed string
constants and nothing else. Names are drawn by hypothesis from quotes, backslashes, NULs,
``\"\"\"``, ``'''``, ``#``, unicode and (in the network's name, which may hold any
character) newlines. Where torch is installed the module is also run, and the names torch
sees must be the file's names.
"""

from __future__ import annotations

import ast
import io
import math
import subprocess
import sys
import tokenize
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcalc import SpecError
from convcalc.export import to_pytorch
from convcalc.export.pytorch import _reserved
from convcalc.layers.torch_source import constant
from convcalc.loader import network_from_data

ROOT = Path(__file__).resolve().parent.parent

# The exploit of issue 7: the name closed the module docstring, ran os.system and opened a
# ''' string that the layer name's ''' closed, its # hiding the rest of that line.
EXPLOIT = {
    "name": 'A""";import os;os.system("touch pwned");Q=(([\'\'\'',
    "input": "3x8x8",
    "layers": [{"type": "conv", "name": "'''#", "filters": 4, "kernel": 3}],
}

FIXED_DOCSTRINGS = {
    "A network from convcalc as a PyTorch module: ``build()`` returns it.",
    "The network's name in its convcalc file; None when it has none.",
    "The input shape, channels first, batch not included.",
}
CONSTANTS = ("NAME", "INPUT_SHAPE", "OUTPUT_SHAPE", "PARAMETERS")
IMPORTS = {"__future__", "collections", "torch", "torch.nn.functional"}
HELPERS = {"Residual", "Parallel", "PaddedAvgPool"}


def template(names: list[str], network_name: str | None) -> dict[str, Any]:
    """Return a network naming 13 layers ``names``, through every way the export writes names.

    A conv with a pad module, a residual with a shortcut, a parallel whose branch needs
    PaddedAvgPool, a repeat written as a loop, and plain layers.
    """
    n = names
    data: dict[str, Any] = {"input": "3x8x8", "layers": [
        {"type": "conv", "name": n[0], "filters": 4, "kernel": 2, "padding": "same"},
        {"type": "residual", "name": n[1],
         "layers": [{"type": "conv", "name": n[2], "filters": 4, "kernel": 1},
                    {"type": "batchnorm", "name": n[3], "eps": 1e-3}],
         "shortcut": [{"type": "conv", "name": n[4], "filters": 4, "kernel": 1}]},
        {"type": "parallel", "name": n[5], "merge": "concat", "branches": [
            [{"type": "relu", "name": n[6]}],
            [{"type": "avgpool", "name": n[7], "kernel": 2, "stride": 1,
              "padding": [[1, 0], [0, 1]], "count_include_pad": False}]]},
        {"type": "sequential", "name": n[8], "repeat": 3,
         "layers": [{"type": "conv", "name": n[9], "filters": 8, "kernel": 1}]},
        {"type": "leaky_relu", "name": n[10], "negative_slope": 0.2},
        {"type": "global_avgpool", "name": n[11]},
        {"type": "linear", "name": n[12], "units": 3},
    ]}
    if network_name is not None:
        data["name"] = network_name
    return data


PLAIN = [f"n{i}" for i in range(13)]

# Pieces a name is made of; no letters p or d, so no drawn name ends in "_pad" (which the
# pad modules' names would have to step around), and no digits (repeat turns are "0"…).
_PIECES = ['"', "'", "\\", "#", "\x00", '"""', "'''", "é", "卷", "\u202e", "☃", "\U0001f600",
           "a", "_", "(", ")", ";", "{", "}", "\x1b", "\x7f"]
LAYER_NAMES = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=12).map("".join).filter(
    lambda name: len(name) <= 200 and not _reserved(name))
NETWORK_NAMES = st.none() | st.lists(st.sampled_from([*_PIECES, "\n", "\r", "\t", " "]),
                                     max_size=40).map("".join)


def export(data: dict[str, Any]) -> str:
    """Return the PyTorch source of a network given as plain data."""
    return to_pytorch(network_from_data(data, "<test>").network, source="<test>")


def check_top_level(source: str) -> ast.Module:
    """Assert the module's top level holds only what the exporter always writes; return it."""
    tree = ast.parse(source)
    body = tree.body
    assert isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    assigned: list[str] = []
    for statement in body:
        if isinstance(statement, ast.Expr):
            assert isinstance(statement.value, ast.Constant)
            assert statement.value.value in FIXED_DOCSTRINGS, ast.dump(statement)
        elif isinstance(statement, ast.ImportFrom):
            assert statement.module in IMPORTS, ast.dump(statement)
        elif isinstance(statement, ast.Import):
            assert {alias.name for alias in statement.names} <= IMPORTS, ast.dump(statement)
        elif isinstance(statement, ast.Assign):
            [target] = statement.targets
            assert isinstance(target, ast.Name) and target.id in CONSTANTS, ast.dump(statement)
            ast.literal_eval(statement.value)  # a constant, nothing that runs
            assigned.append(target.id)
        elif isinstance(statement, ast.FunctionDef):
            assert statement.name in ("build", "_run"), statement.name
        elif isinstance(statement, ast.ClassDef):
            assert statement.name in HELPERS, statement.name
        elif isinstance(statement, ast.If):
            assert ast.unparse(statement.test) == "__name__ == '__main__'"
        else:
            raise AssertionError(f"unexpected statement: {ast.dump(statement)}")
    assert assigned == list(CONSTANTS)
    return tree


def mapped(tree: ast.Module, names: dict[str, str], network_name: str | None) -> str:
    """Return the dump of ``tree`` with its names replaced: NAME's value by ``network_name``,
    and in ``build()`` each string constant in ``names``."""
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and ast.unparse(statement.targets[0]) == "NAME":
            statement.value = ast.Constant(network_name)
        if isinstance(statement, ast.FunctionDef) and statement.name == "build":
            for node in ast.walk(statement):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    node.value = names.get(node.value, node.value)
    return ast.dump(tree)


def string_constants(tree: ast.Module) -> set[str]:
    """Return every string constant in ``tree``."""
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LAYER_NAMES, min_size=13, max_size=13, unique=True), NETWORK_NAMES)
def test_hostile_names_change_only_string_constants(names: list[str],
                                                    network_name: str | None) -> None:
    """Hostile names give the tree plain names give, but for the constants that hold them."""
    source = export(template(names, network_name))
    compile(source, "<generated>", "exec")
    tree = check_top_level(source)
    plain = check_top_level(export(template(PLAIN, None if network_name is None else "net")))
    back = dict(zip(names, PLAIN, strict=True)) | {f"{name}_pad": f"{plain}_pad"
                                                   for name, plain in zip(names, PLAIN,
                                                                          strict=True)}
    assert mapped(tree, back, None if network_name is None else "net") == ast.dump(plain)
    constants = string_constants(ast.parse(source))
    assert set(names) <= constants
    assert (network_name is None) or network_name in constants


@settings(max_examples=150, deadline=None)
@given(NETWORK_NAMES, LAYER_NAMES)
def test_comments_hold_printable_ascii_and_the_first_lines_are_fixed(
        network_name: str | None, layer_name: str) -> None:
    """Every comment is one line of printable ASCII, and lines 1-2 carry no value from the file."""
    data = {"input": "3x8x8", "layers": [
        {"type": "conv", "name": layer_name, "filters": 4, "kernel": 2, "padding": "same"}]}
    if network_name is not None:
        data["name"] = network_name
    source = export(data)
    lines = source.split("\n")
    assert lines[:2] == ["# A network as a PyTorch module, generated by convcalc 0.1.0.", "#"]
    comments = [token.string for token in tokenize.generate_tokens(io.StringIO(source).readline)
                if token.type == tokenize.COMMENT]
    assert comments
    for comment in comments:
        assert all(" " <= c <= "~" for c in comment), comment
    assert tokenize.detect_encoding(io.BytesIO(source.encode()).readline)[0] == "utf-8"


def test_a_coding_declaration_in_the_name_changes_nothing() -> None:
    """A network named '-*- coding: utf-7 -*-' leaves the file UTF-8 (Python reads lines 1-2)."""
    source = export({"name": "-*- coding: utf-7 -*-", "input": "3x8x8",
                     "layers": [{"type": "conv", "name": "+AAo-import", "filters": 4,
                                 "kernel": 1}]})
    assert tokenize.detect_encoding(io.BytesIO(source.encode()).readline)[0] == "utf-8"
    assert "# network   -*- coding: utf-7 -*-" in source.split("\n")[2:]
    check_top_level(source)


def test_the_issue_exploit_is_two_constants() -> None:
    """The issue's injection file exports to a module whose only new values are its names."""
    source = export(EXPLOIT)
    tree = check_top_level(source)
    assert "NAME = 'A\"\"\";import os;os.system(\"touch pwned\");Q=(([\\'\\'\\''" in source
    assert "(\"'''#\", nn.Conv2d(3, 4, kernel_size=3)),  # 4x6x6" in source
    assert {"A\"\"\";import os;os.system(\"touch pwned\");Q=((['''", "'''#"} <= (
        string_constants(tree))
    assert [node for node in ast.walk(tree) if isinstance(node, ast.Attribute)
            and node.attr == "system"] == []


def test_newlines_and_nuls_in_names_compile() -> None:
    """A newline or a NUL in the network's name and a NUL in a layer's name still compile."""
    source = export({"name": "a\nb\x00c\r\n", "input": "3x8x8",
                     "layers": [{"type": "conv", "name": "x\x00y", "filters": 4, "kernel": 3}]})
    compile(source, "<generated>", "exec")
    assert "# network   a\\nb\\x00c\\r\\n" in source
    assert "NAME = 'a\\nb\\x00c\\r\\n'" in source
    assert "('x\\x00y', nn.Conv2d(3, 4, kernel_size=3))," in source


def test_dunder_layer_names_are_renamed_once() -> None:
    """A layer named __x__ (once an endless rename loop) is __x___, and the header says so."""
    source = export({"input": "3x8x8", "layers": [
        {"type": "conv", "name": "__x__", "filters": 4, "kernel": 1},
        {"type": "conv", "name": "__init__", "filters": 4, "kernel": 1},
        {"type": "relu", "name": "____"}]})
    assert "('__x___', nn.Conv2d(3, 4, kernel_size=1))," in source
    assert "('__init___', nn.Conv2d(4, 4, kernel_size=1))," in source
    assert "('____', nn.ReLU())," in source  # no special name is all underscores
    assert "# Renamed, as torch reserves the name: __x__ is __x___ here." in source


def test_reserved_rule_leaves_after_one_underscore() -> None:
    """Python's special names are reserved; one trailing _ always leaves the rule."""
    for name in ("__init__", "__class__", "__dict__", "__x__", "__'__"):
        assert _reserved(name)
        assert not _reserved(name + "_")
    for name in ("__", "___", "____", "_x_", "__x", "x__", "__x___"):
        assert not _reserved(name)


class _Mode(StrEnum):
    bilinear = "bilinear"


@pytest.mark.parametrize(("value", "written"), [
    (float("inf"), 'float("inf")'), (float("-inf"), 'float("-inf")'),
    (float("nan"), 'float("nan")'), (1e-05, "1e-05"), (0.1, "0.1"), (-0.0, "-0.0"),
    (True, "True"), (None, "None"), (3, "3"), ((), "()"), ((2,), "(2,)"), ((0, 1), "(0, 1)"),
    ("it's", '"it\'s"'), ("a\nb", "'a\\nb'"), (_Mode.bilinear, "'bilinear'"),
    (("x", (1.5, float("inf"))), "('x', (1.5, float(\"inf\")))"),
])
def test_constants_read_back_as_themselves(value: Any, written: str) -> None:
    """constant writes each value as a literal that evaluates back to it; inf is float("inf")."""
    assert constant(value) == written
    again = eval(written, {"__builtins__": {"float": float}})
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(again)
    else:
        assert again == value
        assert type(again) is (str if isinstance(value, StrEnum) else type(value))


def test_constants_refuse_anything_else() -> None:
    """A value that is not a str, int, float, bool, None or tuple of them cannot be written."""
    for value in ([1], {"a": 1}, object(), b"x"):
        with pytest.raises(TypeError, match="not a constant"):
            constant(value)  # type: ignore[arg-type]  # a wrong type is the point


@pytest.mark.parametrize(("layer", "field", "value"), [
    ("batchnorm", "eps", float("inf")), ("batchnorm", "eps", float("nan")),
    ("batchnorm", "eps", "1e999"), ("dropout", "p", float("nan")),
    ("dropout", "p", float("-inf")), ("leaky_relu", "negative_slope", float("inf")),
    ("leaky_relu", "negative_slope", float("-inf")), ("leaky_relu", "negative_slope",
                                                       float("nan")),
])
def test_float_options_must_be_finite(layer: str, field: str, value: Any) -> None:
    """Every float option refuses inf and nan, naming the field, before its own bounds."""
    data = {"input": "3x8x8", "layers": [{"type": layer, "name": "x", field: value}]}
    with pytest.raises(SpecError) as caught:
        network_from_data(data, "net.yaml")
    assert str(caught.value) == (f"net.yaml: layers[0]: layer 'x': field '{field}': should be a "
                                 f"finite number (got {value!r})")


def test_finite_float_options_still_export() -> None:
    """Finite eps, p and negative slopes (negative, tiny, written 1e-5) export as written."""
    source = export({"input": "3x8x8", "layers": [
        {"type": "batchnorm", "eps": "1e-3"}, {"type": "dropout", "p": 0},
        {"type": "leaky_relu", "negative_slope": -2.5}, {"type": "leaky_relu",
                                                         "negative_slope": 1e-300}]})
    assert "nn.BatchNorm2d(3, eps=0.001)" in source
    assert "nn.Dropout(p=0.0)" in source
    assert "nn.LeakyReLU(negative_slope=-2.5)" in source
    assert "nn.LeakyReLU(negative_slope=1e-300)" in source


# --------------------------------------------------------------------------- with torch


def named_modules(source: str) -> tuple[list[str], Any]:
    """Return the module paths torch sees when the source builds, and NAME."""
    namespace: dict[str, Any] = {"__name__": "generated"}
    exec(compile(source, "<generated>", "exec"), namespace)
    model = namespace["build"]()
    return [name for name, _ in model.named_modules()], namespace["NAME"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LAYER_NAMES, min_size=13, max_size=13, unique=True), NETWORK_NAMES)
def test_torch_sees_the_files_names(names: list[str], network_name: str | None) -> None:
    """Built, the module's paths are the plain export's with each name the file's own."""
    pytest.importorskip("torch")
    hostile, name = named_modules(export(template(names, network_name)))
    plain, _ = named_modules(export(template(PLAIN, None)))
    back = dict(zip(names, PLAIN, strict=True)) | {f"{n}_pad": f"{p}_pad"
                                                   for n, p in zip(names, PLAIN, strict=True)}
    assert [".".join(back.get(part, part) for part in path.split(".")) if path else path
            for path in hostile] == plain
    assert name == network_name


@pytest.mark.parametrize("data", [
    EXPLOIT,
    {"name": 'A""";import os;os.system("touch pwned");"""', "input": "3x8x8",
     "layers": [{"type": "conv", "name": "c", "filters": 4, "kernel": 3}]},
    {"name": "x\n__import__('os').system('touch pwned')\n", "input": "3x8x8",
     "layers": [{"type": "relu", "name": "');getattr(__import__('os'),'mkdir')('pwned');('"}]},
], ids=["issue", "docstring", "newlines"])
def test_importing_and_running_a_hostile_export_does_nothing_else(
        data: dict[str, Any], tmp_path: Path) -> None:
    """Imported, built and run as a script in an empty folder, the module creates no file."""
    pytest.importorskip("torch")
    network = tmp_path / "net.yaml"
    network.write_text(yaml.safe_dump(data), encoding="utf-8")
    run = tmp_path / "run"
    run.mkdir()
    command = [sys.executable, "-m", "convcalc", "export", "--to", "pytorch", str(network),
               "-o", "model.py"]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    subprocess.run(command, cwd=run, env=env, check=True, capture_output=True)
    check = ("import model; m = model.build(); "
             "print(repr(model.NAME)); print([n for n, _ in m.named_modules()][1:])")
    result = subprocess.run([sys.executable, "-c", check], cwd=run, env=env, check=True,
                            capture_output=True, text=True)
    assert result.stdout.splitlines() == [repr(data["name"]), repr([data["layers"][0]["name"]])]
    subprocess.run([sys.executable, "model.py"], cwd=run, env=env, check=True,
                   capture_output=True)
    assert sorted(p.name for p in run.iterdir()) == ["__pycache__", "model.py"]
