"""Reading models without the onnx package's ``__init__``: the generated protobuf module
loaded alone, and our TensorProto, attribute and dtype conversions checked against onnx's
own ``numpy_helper`` and ``helper``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from onnx_graphs import model_bytes, node, weight

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper

from convcalc.onnx_import import tensors
from convcalc.onnx_import.values import FoldError

ROOT = Path(__file__).resolve().parents[1]

SAMPLES = {
    TensorProto.FLOAT: [0.5, -1.25, 3.0e38, 1e-30, 0.0, 7.0],
    TensorProto.DOUBLE: [0.1, -2.5e300, 1e-300, 0.0, 3.0, -7.0],
    TensorProto.FLOAT16: [0.5, -1.5, 65504.0, 6e-8, 0.0, -2.0],
    TensorProto.INT8: [-128, 127, -1, 0, 5, 9],
    TensorProto.INT16: [-32768, 32767, -1, 0, 300, 9],
    TensorProto.INT32: [-2**31, 2**31 - 1, -1, 0, 70000, 9],
    TensorProto.INT64: [-2**63, 2**63 - 1, -1, 0, 2**40, 9],
    TensorProto.UINT8: [0, 255, 1, 128, 7, 9],
    TensorProto.UINT16: [0, 65535, 1, 32768, 7, 9],
    TensorProto.UINT32: [0, 2**32 - 1, 1, 2**31, 7, 9],
    TensorProto.UINT64: [0, 2**64 - 1, 1, 2**63, 7, 9],
    TensorProto.BOOL: [True, False, True, True, False, False],
}


def _typed(data_type: int) -> TensorProto:
    """Return a 2×3 tensor of ``data_type`` with its values in the typed field."""
    dtype = helper.tensor_dtype_to_np_dtype(data_type)
    values = np.array(SAMPLES[data_type], dtype=dtype)
    return helper.make_tensor("t", data_type, [2, 3], values.reshape(-1).tolist())


def _raw(data_type: int) -> TensorProto:
    """Return the same tensor with its values as raw little-endian bytes."""
    values = np.array(SAMPLES[data_type], dtype=helper.tensor_dtype_to_np_dtype(data_type))
    return numpy_helper.from_array(values.reshape(2, 3), "t")


def test_every_supported_type_is_listed() -> None:
    """The samples cover every data type the importer reads, and onnx agrees on each dtype."""
    assert set(SAMPLES) == set(tensors.DTYPES)
    for data_type, dtype in tensors.DTYPES.items():
        assert dtype == helper.tensor_dtype_to_np_dtype(data_type)
        assert tensors.np_dtype(data_type, "x") == dtype


@pytest.mark.parametrize("data_type", sorted(SAMPLES), ids=lambda t: TensorProto.DataType.Name(t))
@pytest.mark.parametrize("make", [_typed, _raw], ids=["typed", "raw"])
def test_conversion_equals_numpy_helper(data_type: int,
                                        make: Callable[[int], TensorProto]) -> None:
    """Our conversion gives onnx's values, dtype and shape, from raw and typed fields."""
    tensor = make(data_type)
    assert tensor.HasField("raw_data") == (make is _raw)
    expected = numpy_helper.to_array(tensor)
    ours = tensors.to_array(tensor, "t")
    assert ours.dtype == expected.dtype and ours.shape == expected.shape == (2, 3)
    np.testing.assert_array_equal(ours, expected)
    np.testing.assert_array_equal(ours.reshape(-1),
                                  np.array(SAMPLES[data_type], dtype=expected.dtype))


@pytest.mark.parametrize("data_type", [TensorProto.BFLOAT16, TensorProto.FLOAT8E4M3FN,
                                       TensorProto.INT4, TensorProto.COMPLEX64])
def test_other_types_are_refused_by_name(data_type: int) -> None:
    """bfloat16, float8, int4 and complex tensors are one line naming the tensor and type."""
    tensor = helper.make_tensor("w", data_type, [2], [1, 0])
    name = TensorProto.DataType.Name(data_type)
    with pytest.raises(FoldError) as caught:
        tensors.to_array(tensor, "w")
    assert str(caught.value) == (f"'w' is of type {name}, which convcalc does not read (it "
                                 "reads bool, integers, float16, float and double)")


def test_string_tensor_is_refused() -> None:
    """A string tensor is refused the same way."""
    tensor = helper.make_tensor("s", TensorProto.STRING, [1], [b"a"])
    with pytest.raises(FoldError, match=r"^'s' is of type STRING, "):
        tensors.to_array(tensor, "s")


def test_short_raw_data_is_a_value_error() -> None:
    """Raw data that does not fill the dims raises ValueError, as numpy_helper does."""
    tensor = numpy_helper.from_array(np.arange(6, dtype=np.int64), "t")
    tensor.raw_data = tensor.raw_data[:5]
    with pytest.raises(ValueError):
        numpy_helper.to_array(tensor)
    with pytest.raises(ValueError):
        tensors.to_array(tensor, "t")


@pytest.mark.parametrize("value", [0.2, 7, "same_upper", b"\xff", _raw(TensorProto.INT64),
                                   [0.5, 0.25], [1, 2, 3], ["a", "b"],
                                   [_raw(TensorProto.FLOAT), _typed(TensorProto.INT8)]])
def test_attribute_value_equals_helper(value: object) -> None:
    """Each attribute type read gives what ``helper.get_attribute_value`` gives."""
    attribute = helper.make_attribute("a", value)
    assert attribute.type not in tensors.UNREAD
    assert tensors.attribute_value(attribute) == helper.get_attribute_value(attribute)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, check=False)


def test_net_on_onnx_imports_neither_the_onnx_package_nor_ml_dtypes(tmp_path: Path) -> None:
    """`convcalc net small.onnx --format json` runs without executing onnx/__init__.py
    (no onnx.helper, no ml_dtypes) and still reads the model (its conv's parameters)."""
    path = tmp_path / "small.onnx"
    path.write_bytes(model_bytes([node("Conv", ["x", "w"], name="c", pads=[1] * 4)],
                                 [1, 3, 8, 8], initializers=[weight("w", 4, 3, 3, 3)]))
    code = f"""
import json, sys
sys.argv = ["convcalc", "net", {str(path)!r}, "--format", "json"]
from convcalc.cli import main
try:
    main()
except SystemExit as done:
    assert not done.code, done.code
print(sorted(m for m in ("onnx", "onnx.helper", "ml_dtypes", "onnx.onnx_ml_pb2")
             if m in sys.modules))
"""
    done = _run(code)
    assert done.returncode == 0, done.stderr
    *output, loaded = done.stdout.strip().splitlines()
    assert loaded == "['onnx.onnx_ml_pb2']"
    report = json.loads("\n".join(output))
    assert report["output_shape"] == [4, 8, 8]  # 4 filters, 3×3 padded by 1
    assert report["totals"]["params"] == 4 * 3 * 3 * 3  # no bias


def test_onnx_imported_after_reuses_the_module() -> None:
    """After a read through the module alone, ``import onnx`` registers nothing twice:
    onnx's ModelProto is ours, and onnx.helper and onnx.load_model_from_string work."""
    code = """
import sys
from convcalc.onnx_import.proto import messages, parse_model
ours = messages()
assert "onnx" not in sys.modules
import onnx, onnx.helper
assert onnx.ModelProto is ours.ModelProto
graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "g",
    [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2])],
    [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 2])])
data = onnx.helper.make_model(graph).SerializeToString()
print(onnx.load_model_from_string(data).graph.node[0].op_type,
      parse_model(data).graph.node[0].op_type, messages() is ours)
"""
    done = _run(code)
    assert (done.returncode, done.stdout.split()) == (0, ["Relu", "Relu", "True"]), done.stderr


def test_a_module_that_fails_to_load_falls_back_to_import_onnx(tmp_path: Path) -> None:
    """When the generated module cannot run alone (here a stand-in that raises, as
    protobuf's version check does), the onnx package is imported the ordinary way."""
    (tmp_path / "onnx_ml_pb2.py").write_text("raise ImportError('protobuf too old')\n")
    code = f"""
import importlib.machinery, importlib.util, sys
real = importlib.util.find_spec
spec = importlib.machinery.ModuleSpec("onnx", None, is_package=True)
spec.submodule_search_locations.append({str(tmp_path)!r})
importlib.util.find_spec = lambda name, package=None: (
    spec if name == "onnx" else real(name, package))
from convcalc.onnx_import.proto import messages
module = messages()
print("onnx.helper" in sys.modules, module.__file__ != {str(tmp_path / "onnx_ml_pb2.py")!r},
      hasattr(module, "ModelProto"))
"""
    done = _run(code)
    assert (done.returncode, done.stdout.split()) == (0, ["True", "True", "True"]), done.stderr
