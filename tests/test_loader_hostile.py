"""The loader against hostile files: YAML read as YAML 1.2 means it, aliases validated once
per shared object, standard input closed or undecodable, and messages kept to one safe line."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from convcalc.errors import InputError, NetworkFileError, SpecError
from convcalc.layers.conv import Conv
from convcalc.loader import MAX_DIGITS, MAX_MERGED_KEYS, load_network, parse_network
from convcalc.spec import parse_shape

ROOT = Path(__file__).resolve().parent.parent


def error_of(text: str) -> str:
    """Return the one-line message the loader gives for the network ``text``."""
    with pytest.raises(InputError) as error:
        parse_network(text, "net.yaml")
    return str(error.value)


def conv_with(field: str) -> str:
    """Return a one-conv network with ``field`` written into the conv's mapping."""
    return f"input: 3x8\nlayers:\n  - {{type: conv, kernel: 3, {field}}}\n"


@pytest.mark.parametrize(("tag", "value"), [
    ("!!set", "{3: null, 32: null}"), ("!!omap", "[a: 1]"), ("!!pairs", "[a: 1]"),
    ("!!binary", "aGVsbG8="), ("!!timestamp", "2024-01-01"), ("!conv", "{}"),
])
def test_tags_other_than_the_core_ones_are_refused(tag: str, value: str) -> None:
    """A set, ordered map, pairs, binary, timestamp or local tag is an error on its line."""
    assert error_of(f"name: x\ninput: {tag} {value}\nlayers: [relu]\n") == (
        f"net.yaml:2: the tag '{tag}' is not allowed; network files hold plain data "
        "(mappings, lists, numbers, strings)")


def test_core_tags_still_load() -> None:
    """Explicit core tags (!!str, !!int, !!seq, !!map) mean what they say."""
    network = parse_network("name: !!str 12\ninput: !!seq [!!int 3, 8]\n"
                            "layers: [!!map {type: relu}]\n").network
    assert (network.name, network.input) == ("12", (3, 8))


def test_a_duplicate_key_names_both_lines() -> None:
    """A key given twice is an error naming the line of each, not the last value kept."""
    text = "input: 3x8\nlayers:\n  - type: conv\n    filters: 8\n    kernel: 3\n    filters: 16\n"
    assert error_of(text) == ("net.yaml:6: duplicate key 'filters' (lines 4 and 6); a mapping "
                              "takes each key once")


def test_merge_keys_are_not_duplicates() -> None:
    """``<<: *base`` fills in keys; a key written next to it wins, as YAML merge keys say."""
    text = ("input: 3x8\nlayers:\n  - &base {type: conv, filters: 8, kernel: 3}\n"
            "  - {<<: *base, kernel: 1}\n")
    second = parse_network(text).network.layers[1]
    assert isinstance(second, Conv)
    assert (second.filters, second.kernel) == (8, 1)


@pytest.mark.parametrize(("written", "message"), [
    ("0x10", "0x10 is a YAML 1.1 hexadecimal integer; write 16, or quote it for text"),
    ("010", "010 is a YAML 1.1 octal integer; write 8, or quote it for text"),
    ("-0b101", "-0b101 is a YAML 1.1 binary integer; write -5, or quote it for text"),
    ("1:00", "1:00 is a YAML 1.1 sexagesimal (base-60) integer; write 60, or quote it for "
             "text"),
    ("1_000", "1_000 is a YAML 1.1 integer with underscores; write 1000, or quote it for text"),
])
def test_yaml_1_1_integers_are_refused_with_the_number_to_write(written: str,
                                                                message: str) -> None:
    """Hex, octal, binary, base-60 and underscored integers are refused, saying the value."""
    assert error_of(conv_with(f"filters: {written}")) == f"net.yaml:3: {message}"


def test_yaml_1_1_floats_are_refused() -> None:
    """A base-60 or underscored float is refused rather than read as YAML 1.1 reads it."""
    assert error_of("input: 3x8\nlayers:\n  - {type: dropout, p: 0:30.5}\n") == (
        "net.yaml:3: '0:30.5' is a YAML 1.1 number (underscores or base-60 parts); write it "
        "as plain decimal digits, or quote it for text")


def test_decimal_integers_and_floats_load() -> None:
    """Plain decimal numbers, signs and 0 load as numbers; ``1e-5`` still reaches a float."""
    network = parse_network("input: [+3, 8]\nlayers:\n  - {type: batchnorm, eps: 1e-5}\n"
                            "  - {type: pad, padding: 0}\n").network
    assert network.input == (3, 8)
    assert network.layers[0].eps == 1e-5  # type: ignore[union-attr]


@pytest.mark.parametrize(("written", "meant"), [("no", "false"), ("off", "false"),
                                                ("yes", "true"), ("On", "true")])
def test_yaml_1_1_booleans_are_text_and_a_boolean_field_says_what_to_write(
        written: str, meant: str) -> None:
    """``bias: no`` is refused with ``write false``; yes/no/on/off are text in YAML 1.2."""
    assert error_of(conv_with(f"filters: 8, bias: {written}")) == (
        f"net.yaml:3: layers[0]: field 'bias': '{written}' is a YAML 1.1 boolean, which a "
        f"network file reads as text; write {meant}")


def test_words_yaml_1_1_would_change_stay_text() -> None:
    """``name: on``, a date and ``=`` are names, not a boolean, a date or a YAML 1.1 value."""
    network = parse_network("name: off\ninput: 3x8\nlayers:\n  - {type: relu, name: on}\n"
                            "  - {type: relu, name: 2024-01-01}\n  - {type: relu, name: =}\n"
                            ).network
    assert network.name == "off"
    assert [layer.name for layer in network.layers] == ["on", "2024-01-01", "="]


def test_a_5000_digit_integer_is_refused_before_conversion() -> None:
    """A 5,000-digit number is an error naming its size, not Python's digit-limit ValueError."""
    assert error_of(conv_with(f"filters: {'9' * 5000}")) == (
        f"net.yaml:3: a number of 5,000 digits; numbers here have at most {MAX_DIGITS} digits "
        "(no size exceeds 2,147,483,647)")


@pytest.mark.parametrize("written", ["3x\u0663\u0662", "3x8\u00b2", "\uff13x8"])
def test_shapes_take_ascii_digits_only(written: str) -> None:
    """Arabic-Indic, superscript and full-width digits are not sizes (str.isdigit says yes)."""
    with pytest.raises(ValueError, match="is not a shape; write channels first in digits 0-9"):
        parse_shape(written)


def test_a_shape_with_a_5000_digit_size_is_refused() -> None:
    """A huge size in a shape string is refused before int() and the message is cut."""
    with pytest.raises(ValueError) as error:
        parse_shape("3x" + "9" * 5000)
    assert str(error.value) == (f"'3x{'9' * 58}…' (5,002 characters) is not a shape: each "
                                "size is at most 2,147,483,647")


def test_a_nul_byte_gives_one_line_with_its_line_number() -> None:
    """A raw NUL is one line naming the line it is on, the character escaped."""
    assert error_of("input: 3x8\nname: é€\nlayers:\n  - relu\x00\n") == (
        "net.yaml:4: the character '\\x00' is not allowed in a YAML file (control characters "
        "other than tab and line breaks); remove it")


def test_a_2_000_000_character_name_is_cut_in_the_message() -> None:
    """A huge invalid name is echoed once, cut, with its length: a short line, not 4 MB."""
    message = error_of(f"input: 3x8\nlayers:\n  - {{type: relu, name: {'a' * 2_000_000}}}\n")
    assert message == (f"net.yaml:3: layers[0]: layer '{'a' * 60}…' (2,000,000 characters): "
                       "field 'name': a name has at most 200 characters; this one has 2,000,000")


def test_a_200_000_number_input_is_cut_in_the_message() -> None:
    """An input of 200,000 numbers is said to have 200,000 sizes, its start shown, cut."""
    message = error_of("input: [" + ", ".join(["7"] * 200_000) + "]\nlayers: [relu]\n")
    assert message == ("net.yaml:1: field 'input': a shape has 1 to 4 sizes, channels first "
                       "(C, C×L, C×H×W or C×D×H×W); this one has 200,000 ([" +
                       ", ".join(["7"] * 20) + ",… (200,000 items))")


def test_each_name_rule_says_which_rule_was_broken() -> None:
    """Too long, empty, a dot and a space each get their own message."""
    def name_error(name: str) -> str:
        return error_of(f"input: 3x8\nlayers:\n  - {{type: relu, name: {name}}}\n")

    assert name_error("b" * 201).endswith(
        "field 'name': a name has at most 200 characters; this one has 201")
    assert name_error("''").endswith("field 'name': a name cannot be empty")
    assert name_error("a.b").endswith("'a.b' has a dot")
    assert name_error('"a\\tb"').endswith("'a\\x09b' has the whitespace character '\\x09'")


def test_control_and_bidi_characters_in_names_are_escaped() -> None:
    """ESC, BEL and U+202E in a layer name reach the message escaped, never raw."""
    message = error_of('input: 3x8\nlayers:\n  - {type: relu, name: "\\e[31m\\a.\\u202e"}\n')
    assert message == ("net.yaml:3: layers[0]: layer '\\x1b[31m\\x07.\\u202e': field 'name': a "
                       "name has no dots or spaces (dots join the names of nested layers); "
                       "'\\x1b[31m\\x07.\\u202e' has a dot")
    assert "\x1b" not in message and "\u202e" not in message


def test_describe_escapes_and_cuts_the_layer_name() -> None:
    """InputError.describe shows a layer name escaped and cut, whoever raised the error."""
    error = InputError("kernel too large", source="n\x1b.yaml", line=3, layer="x\x1b" * 100)
    escaped = "x\\x1b" * 12  # 60 characters of the escaped name, then the cut
    assert error.describe() == (f"n\\x1b.yaml:3: layer '{escaped}…' (200 characters): "
                                "kernel too large")


def test_network_level_errors_say_the_network() -> None:
    """An unknown key beside a network's name is not blamed on a layer of that name."""
    assert error_of("name: mynet\ninput: 3x8\nlayers: [relu]\nbogus: 1\n") == (
        "net.yaml:4: unknown key 'bogus' for the network; it takes: version, name, input, "
        "layers")


def test_network_fields_are_checked_before_layers() -> None:
    """A bad input is reported before a bad layer, as the file reads top-down."""
    assert error_of("input: 3x0\nlayers:\n  - {type: conv}\n") == (
        "net.yaml:1: field 'input': should be greater than or equal to 1 (got 0)")


def dag(leaf: str, levels: int = 6, fanout: int = 10, tail: str = "") -> str:
    """Return a network of nested aliased sequentials: fanout**levels copies of ``leaf``."""
    lines = ["input: 3x8x8", "layers:", "  - type: sequential", f"    layers: [&s0 {leaf}]"]
    for level in range(1, levels + 1):
        refs = ", ".join([f"*s{level - 1}"] * fanout)
        lines.append(f"  - &s{level} {{type: sequential, layers: [{refs}]}}")
    return "\n".join(lines) + "\n" + tail


def test_a_million_aliased_invalid_layers_take_linear_time() -> None:
    """A 0.6 KB file holding a million invalid layers by alias fails fast, at the first."""
    start = time.perf_counter()
    message = error_of(dag("{type: conv, filters: 0}"))
    assert time.perf_counter() - start < 5  # 126 s and 5.8 GB when every copy was validated
    assert message == ("net.yaml:4: layers[0].layers[0]: field 'filters': should be greater "
                       "than or equal to 1 (got 0)")


def test_an_error_after_a_million_valid_aliased_layers() -> None:
    """After a million valid shared layers, the invalid one is found at its own line."""
    start = time.perf_counter()
    message = error_of(dag("{type: conv, filters: 3, kernel: 1}",
                           tail="  - {type: conv, filters: 3, kernel: 1, stride: 0}\n"))
    assert time.perf_counter() - start < 5
    assert message.startswith("net.yaml:11: layers[7]: field 'stride': 0 is not valid here")


def test_a_body_shared_by_many_containers_is_checked_once() -> None:
    """2,400 containers sharing one 2,000-layer body validate in about the time of one."""
    lines = ["input: 3x8x8", "layers:",
             "  - {type: sequential, layers: &L [" + ", ".join(["relu"] * 2000) + "]}"]
    lines += ["  - {type: sequential, layers: *L}"] * 2399
    network = parse_network("\n".join(lines) + "\n").network
    first, last = network.layers[0], network.layers[-1]
    assert first.layers is last.layers  # type: ignore[union-attr]  # one body, one list
    assert len(first.layers) == 2000  # type: ignore[union-attr]


def test_shared_layers_are_one_model_equal_to_written_out_ones() -> None:
    """An aliased layer becomes one shared model, equal to the same layer written twice."""
    shared = parse_network("input: 3x8\nlayers:\n  - &c {type: conv, filters: 4, kernel: 3}\n"
                           "  - *c\n").network
    written = parse_network("input: 3x8\nlayers:\n  - {type: conv, filters: 4, kernel: 3}\n"
                            "  - {type: conv, filters: 4, kernel: 3}\n").network
    assert shared.layers[0] is shared.layers[1]
    assert shared == written


def test_an_error_in_a_shared_subtree_points_at_its_first_use_and_its_line() -> None:
    """An invalid layer reached twice is reported where the file first reaches it."""
    text = ("input: 3x8\nlayers:\n  - relu\n  - type: residual\n    layers: &body\n"
            "      - relu\n      - {type: conv, filters: 4, kernel: 3, padding: -1}\n"
            "  - {type: residual, layers: *body}\n")
    assert error_of(text) == (
        "net.yaml:7: layers[1].layers[1]: field 'padding': -1 is not valid here; expected an "
        "int ≥ 0, one per spatial dim [1, 2], (before, after) per dim [[0, 1], [0, 1]], same "
        "or valid")


def test_a_shared_container_with_a_bad_own_field() -> None:
    """A container's own bad field is found though its shared body is not checked again."""
    text = ("input: 3x8\nlayers:\n  - &a {type: sequential, layers: [relu, relu]}\n"
            "  - {type: sequential, layers: *x, repeat: 0}\n")
    text = text.replace("*x", "[relu]")
    text += "  - {type: parallel, branches: [*a]}\n"
    assert error_of(text) == ("net.yaml:4: layers[1]: field 'repeat': should be greater than or "
                              "equal to 1 (got 0)")


def test_stdin_closed_is_a_file_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """With stdin closed (sys.stdin is None), ``-`` is a one-line error, not AttributeError."""
    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(NetworkFileError) as error:
        load_network("-")
    assert str(error.value) == "<stdin>: cannot read: standard input is closed"


def test_non_utf8_stdin_is_a_file_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad bytes on stdin are refused as a file's are, whatever the locale's error handler."""
    raw = io.BytesIO(b"input: 3x8\nlayers: [relu]\nname: caf\xe9\n")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(raw, errors="surrogateescape"))
    with pytest.raises(NetworkFileError) as error:
        load_network("-")
    assert str(error.value) == "<stdin>: not UTF-8 text (invalid continuation byte at byte 35)"


def test_net_with_stdin_closed_exits_2() -> None:
    """``convcalc net - <&-`` exits 2 with one error line and no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "convcalc", "net", "-"], capture_output=True, check=False,
        stdin=None, preexec_fn=lambda: os.close(0), timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2
    assert result.stderr.decode() == "error: <stdin>: cannot read: standard input is closed\n"


def test_a_spec_error_is_still_a_spec_error() -> None:
    """Validation errors found by node are SpecErrors, as before."""
    with pytest.raises(SpecError):
        parse_network("input: 3x8\nlayers:\n  - {type: conv, filters: 8}\n")


def test_merge_keys_that_copy_too_much_are_refused_before_copying() -> None:
    """Merging a 5,000-key mapping 300 times (1.5M copies) is refused by counting first."""
    keys = ", ".join(f"k{i}: 1" for i in range(5000))
    text = ("input: 3x8\nlayers: [relu]\nx: &a {" + keys + "}\ny: ["
            + ", ".join(["{<<: *a}"] * 300) + "]\n")
    assert error_of(text) == (
        f"net.yaml:4: the merge keys ('<<') copy more than {MAX_MERGED_KEYS:,} keys; write the "
        "repetition with 'repeat' instead")
