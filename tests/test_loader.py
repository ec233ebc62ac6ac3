"""The loader: YAML text to a validated network, and bad files to messages a person can act on."""

from __future__ import annotations

from pathlib import Path

import pytest

from convcalc.analysis import analyze
from convcalc.errors import InputError, NetworkFileError, SpecError
from convcalc.loader import MAX_NESTING, input_note, load_network, parse_network
from convcalc.spec import LAYER_TYPES


def error_of(text: str) -> str:
    """Return the one-line message convcalc gives for the network ``text``."""
    try:
        source = parse_network(text, "net.yaml")
        analyze(source.network)
    except InputError as error:
        if error.source is None:
            source.annotate(error)
        return str(error)
    raise AssertionError("no error")


def test_forms_of_a_layer() -> None:
    """A bare string, a mapping, flow style and a shape string all load to the same model."""
    source = parse_network(
        "input: 3x32x32\nlayers:\n  - relu\n  - {type: conv, filters: 8, kernel: [3, 1]}\n"
    )
    network = source.network
    assert network.input == (3, 32, 32)
    assert [layer.type for layer in network.layers] == ["relu", "conv"]
    assert network.layers[1].kernel == (3, 1)  # type: ignore[union-attr]


def test_input_forms() -> None:
    """An input may be 3x224x224, 3×224×224, [3, 224, 224] or a lone channel count."""
    for written, shape in [("3x224x224", (3, 224, 224)), ("3×224×224", (3, 224, 224)),
                           ("[3, 224, 224]", (3, 224, 224)), ("512", (512,)),
                           ("1x8x16x16", (1, 8, 16, 16))]:
        assert parse_network(f"input: {written}\nlayers: [relu]\n").network.input == shape


def test_anchors_and_aliases_reuse_a_block() -> None:
    """A block written once with an anchor and reused by an alias counts twice."""
    text = """
input: 8x16x16
layers:
  - type: residual
    name: a
    layers: &body
      - {type: conv, filters: 8, kernel: 3, padding: 1}
      - relu
  - {type: residual, name: b, layers: *body}
"""
    report = analyze(parse_network(text).network)
    # each conv: 8·(8·3·3) + 8 = 584 parameters, and there are two
    assert report.totals.params == 2 * 584


BAD_FILES = {
    "unknown layer type, with the near name": (
        "input: 3x32x32\nlayers:\n  - relu\n  - type: convv\n    filters: 8\n",
        "net.yaml:4: layers[1]: unknown layer type 'convv' (did you mean 'conv'?); the types "
        f"are: {', '.join(LAYER_TYPES)}",
    ),
    "unknown key, with the near name": (
        "input: 3x32x32\nlayers:\n  - {type: conv, filter: 8, kernel: 3}\n",
        "net.yaml:3: layers[0]: unknown key 'filter' (did you mean 'filters'?) for a conv "
        "layer; it takes: name, filters, kernel, stride, padding, dilation, groups, bias",
    ),
    "missing field": (
        "input: 3x32x32\nlayers:\n  - type: conv\n    kernel: 3\n",
        "net.yaml:3: layers[0]: a conv layer needs 'filters'",
    ),
    "wrong type": (
        "input: 3x32x32\nlayers:\n  - type: conv\n    filters: eight\n    kernel: 3\n",
        "net.yaml:4: layers[0]: field 'filters': should be a valid integer (got 'eight')",
    ),
    "zero size": (
        "input: 3x32x32\nlayers:\n  - {type: conv, filters: 0, kernel: 3}\n",
        "net.yaml:3: layers[0]: field 'filters': should be greater than or equal to 1 (got 0)",
    ),
    "negative input": (
        "input: [3, -32, 32]\nlayers: [relu]\n",
        "net.yaml:1: field 'input': should be greater than or equal to 1 (got -32)",
    ),
    "a float kernel": (
        "input: 3x8x8\nlayers:\n  - {type: conv, filters: 2, kernel: 2.5}\n",
        "net.yaml:3: layers[0]: field 'kernel': 2.5 is not valid here; expected an int ≥ 1, "
        "or a list with one int ≥ 1 per spatial dim such as [3, 1]",
    ),
    "kernel larger than the padded input": (
        "input: 3x8x8\nlayers:\n  - {type: conv, name: c1, filters: 4, kernel: 11, "
        "padding: 1}\n",
        "net.yaml:3: layers[0]: layer 'c1': kernel 11 is larger than the "
        "padded input along H: 8 + padding 1+1 = 10; use a smaller kernel or more padding",
    ),
    "groups that do not divide the channels": (
        "input: 3x8x8\nlayers:\n  - {type: conv, filters: 4, kernel: 3, groups: 2}\n",
        "net.yaml:3: layers[0]: layer 'conv1': field 'groups': groups=2 does not divide the 3 "
        "input channels; groups must divide both the input channels and the filters",
    ),
    "mismatched shapes at a merge": (
        "input: 3x8x8\nlayers:\n  - type: residual\n    name: block\n    layers:\n"
        "      - {type: conv, filters: 4, kernel: 3, padding: 1}\n",
        "net.yaml:3: layers[0]: layer 'block': add needs equal shapes, the branches give "
        "4×8×8, 3×8×8",
    ),
    "linear on a non-flat input": (
        "input: 3x8x8\nlayers:\n  - {type: linear, units: 10}\n",
        "net.yaml:3: layers[0]: layer 'linear1': linear needs a flat input [features], got "
        "3×8×8; add '- flatten' (→ 192) or a global pooling layer before it",
    ),
    "a nested layer is located by its full path and name": (
        "input: 3x8x8\nlayers:\n  - type: sequential\n    name: head\n    layers:\n"
        "      - global_avgpool\n      - {type: conv, filters: 2, kernel: 1}\n",
        "net.yaml:7: layers[0].layers[1]: layer 'head.conv1': conv needs an input with a "
        "spatial dimension (C×L, C×H×W or C×D×H×W), got the flat shape 3; it must come before "
        "flatten, linear or global pooling",
    ),
    "per-dim list of the wrong length": (
        "input: 3x8x8\nlayers:\n  - {type: conv, filters: 4, kernel: [3, 3, 3]}\n",
        "net.yaml:3: layers[0]: layer 'conv1': kernel has 3 values [3, 3, 3] "
        "but the input has 2 spatial dimensions: give one int or 2 ints",
    ),
    "a number where a layer should be": (
        "input: 3x8x8\nlayers:\n  - 5\n",
        "net.yaml:3: layers[0]: a layer is a mapping with a 'type', or a bare type name like "
        "relu; got a number 5",
    ),
    "a layer without a type": (
        "input: 3x8x8\nlayers:\n  - {filters: 5}\n",
        "net.yaml:3: layers[0]: this layer has no 'type'; write e.g. 'type: conv' or a bare "
        "name like relu",
    ),
    "unknown top-level key": (
        "inputs: 3x8x8\nlayers: [relu]\n",
        "net.yaml:1: unknown key 'inputs' (did you mean 'input'?) for the network; it takes: "
        "version, name, input, layers",
    ),
    "duplicate names": (
        "input: 3x8x8\nlayers:\n  - {type: relu, name: a}\n  - {type: relu, name: a}\n",
        "net.yaml:4: layers[1]: field 'name': the name 'a' is already used by the layer at "
        "layers[0]; names must be unique among siblings",
    ),
    "no layers": (
        "input: 3x8x8\nlayers: []\n",
        "net.yaml:2: field 'layers': [] is not valid here; expected a list of at least one "
        "layer",
    ),
    "too many dimensions": (
        "input: 1x2x3x4x5\nlayers: [relu]\n",
        "net.yaml:1: field 'input': a shape has 1 to 4 sizes, channels first (C, C×L, "
        "C×H×W or C×D×H×W); this one has 5 ([1, 2, 3, 4, 5])",
    ),
    "a dot in a name": (
        "input: 3x8x8\nlayers:\n  - {type: relu, name: a.b}\n",
        "net.yaml:3: layers[0]: layer 'a.b': field 'name': a name has no dots or spaces (dots "
        "join the names of nested layers); 'a.b' has a dot",
    ),
    "same padding on a transposed convolution": (
        "input: 3x8x8\nlayers:\n  - {type: conv_transpose, filters: 2, kernel: 2, padding: "
        "same}\n",
        "net.yaml:3: layers[0]: field 'padding': 'same' is not valid here; expected an int ≥ 0 "
        "or one per spatial dim (PyTorch's padding, cropped from both ends of the output)",
    ),
    "a mapping is needed": (
        "- relu\n",
        "net.yaml:1: a network file is a mapping with 'input' and 'layers' (see "
        "docs/format.md), got a list",
    ),
    "broken YAML": (
        "input: 3x8x8\nlayers:\n  - {type: relu\n",
        "net.yaml:4: invalid YAML: did not find expected ',' or '}'",
    ),
    "two documents": (
        "input: 3x8x8\nlayers: [relu]\n---\ninput: 1\n",
        "net.yaml:3: invalid YAML: but found another document",
    ),
    "a python tag": (
        "input: !!python/object/apply:os.system [ls]\nlayers: [relu]\n",
        "net.yaml:1: the tag '!!python/object/apply:os.system' is not allowed; "
        "network files hold plain data (mappings, lists, numbers, strings)",
    ),
    "a recursive alias": (
        "input: 3x8x8\nlayers: &a [relu, *a]\n",
        "net.yaml:2: layers[1]: an alias refers to a node that contains it (a recursive alias)",
    ),
    "branches whose strides differ": (
        "input: 3x10x10\nlayers:\n  - type: parallel\n    name: mix\n    branches:\n"
        "      - [{type: conv, filters: 3, kernel: 3}]\n"
        "      - [{type: adaptive_avgpool, output: 8}]\n",
        "net.yaml:3: layers[0]: layer 'mix': the branches reach the merge with different "
        "effective strides (1, 5/4), so their units do not line up; make every branch "
        "downsample alike",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES), ids=list(BAD_FILES))
def test_bad_file_messages(case: str) -> None:
    """Each kind of bad file gets one exact message naming the line, the layer and the field."""
    text, message = BAD_FILES[case]
    assert error_of(text) == message


def test_alias_bomb_is_refused_without_expanding() -> None:
    """A "billion laughs" document is refused by counting, not by building it."""
    lines = ["input: 3x8x8", "a0: &a0 [relu, relu, relu, relu, relu, relu, relu, relu, relu]"]
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    lines.append("layers: [{type: sequential, layers: *a9}]")
    with pytest.raises(NetworkFileError, match="the aliases expand this document past "
                                               "5,000,000 values; write the repetition with "
                                               "'repeat' instead"):
        parse_network("\n".join(lines) + "\n", "bomb.yaml")


def test_absurd_nesting_is_refused() -> None:
    """Containers nested past the limit give a message, not a RecursionError."""
    depth = MAX_NESTING
    text = ("input: 3x8x8\nlayers: " + "[{type: sequential, layers: " * depth + "[relu]"
            + "}]" * depth + "\n")
    with pytest.raises(NetworkFileError, match=f"nested deeper than {MAX_NESTING} levels"):
        parse_network(text, "deep.yaml")


def test_repeat_past_the_layer_limit() -> None:
    """A repeat that expands past the layer limit is refused before it is walked."""
    text = "input: 3x8x8\nlayers:\n  - {type: sequential, repeat: 1000000, layers: [relu, relu]}\n"
    assert error_of(text) == (
        "net.yaml:3: layers: the network expands to 3,000,001 rows (layers, merges and "
        "container subtotals, repeats included), past the limit of 100,000; lower a 'repeat'"
    )


def test_file_errors(tmp_path: Path) -> None:
    """Missing files, directories and non-UTF-8 files are named with what is wrong."""
    with pytest.raises(NetworkFileError) as missing:
        load_network(tmp_path / "nope.yaml")
    assert str(missing.value) == f"{tmp_path / 'nope.yaml'}: no such file"
    with pytest.raises(NetworkFileError) as directory:
        load_network(tmp_path)
    assert str(directory.value) == f"{tmp_path}: is a directory, not a network file"
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(NetworkFileError) as undecodable:
        load_network(binary)
    assert str(undecodable.value) == (f"{binary}: not UTF-8 text (invalid start byte at "
                                      "byte 0)")


def test_empty_file(tmp_path: Path) -> None:
    """An empty file says it holds nothing, not a traceback."""
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(SpecError) as error:
        load_network(empty)
    assert str(error.value) == (f"{empty}:1: a network file is a mapping with 'input' and "
                                "'layers' (see docs/format.md), got nothing (an empty document)")


def test_the_file_is_not_changed(tmp_path: Path) -> None:
    """Loading (and failing to load) leaves the user's file byte for byte as it was."""
    path = tmp_path / "net.yaml"
    text = "input: 3x8x8\nlayers:\n  - {type: conv, filter: 8, kernel: 3}\n"
    path.write_text(text)
    with pytest.raises(SpecError):
        load_network(path)
    assert path.read_text() == text


# --- inputs whose rank may be misread (issue 10) ---------------------------------------


@pytest.mark.parametrize(("shape", "note"), [
    ((1, 3, 224, 224), "input 1×3×224×224 read as C=1, D=3, H=224, W=224 (3-D); if 1 is the "
                       "batch, write 3x224x224 (the batch size is --batch)"),
    ((1, 1, 28, 28), "input 1×1×28×28 read as C=1, D=1, H=28, W=28 (3-D); if 1 is the batch, "
                     "write 1x28x28 (the batch size is --batch)"),
    ((32, 32), "input 32×32 read as C=32, L=32 (1-D); write 1x32x32 for one 32×32 channel"),
    ((3, 3), "input 3×3 read as C=3, L=3 (1-D); write 1x3x3 for one 3×3 channel"),
    ((3, 100), None), ((16, 1000), None),          # 1-D signals: few channels, long
    ((3, 16, 112, 112), None), ((1, 64, 128, 128), None), ((1, 3, 4, 4), None),
    ((3, 224, 224), None), ((9216,), None),
])
def test_input_note(shape: tuple[int, ...], note: str | None) -> None:
    """A batch-looking 1×C×H×W and an H×W-looking pair are stated; other shapes are not."""
    assert input_note(shape) == note


def test_a_batch_looking_file_input_is_noted_not_refused(tmp_path: Path) -> None:
    """input: [1, 3, 224, 224] loads (a valid 1-channel volume of depth 3), and an error it
    leads to says how the input was read."""
    path = tmp_path / "net.yaml"
    path.write_text("input: [1, 3, 224, 224]\nlayers:\n  - {type: conv, filters: 8, "
                    "kernel: [3, 3]}\n")
    source = load_network(str(path))
    assert source.network.input == (1, 3, 224, 224)
    with pytest.raises(InputError) as caught:
        analyze(source.network)
    message = str(source.annotate(caught.value))
    assert message.endswith("(input 1×3×224×224 read as C=1, D=3, H=224, W=224 (3-D); if 1 "
                            "is the batch, write 3x224x224 (the batch size is --batch))")
