"""The errors convcalc raises, and the exit code each one maps to.

The tree::

    ConvcalcError                 base of everything convcalc raises on purpose
    ├── InputError                the user's input is wrong: exit code 2
    │   ├── NetworkFileError      the file cannot be read or parsed (missing, not UTF-8,
    │   │                         broken YAML, a tag other than the core ones, a
    │   │                         duplicate key, a YAML 1.1 number, an alias bomb,
    │   │                         nesting too deep, stdin closed)
    │   ├── SpecError             the file parses but a layer or field is invalid
    │   ├── LayerError            the layers do not fit together: a kernel larger than its
    │   │                         padded input, channels that `groups` does not divide,
    │   │                         shapes that disagree at a merge, a `linear` on a
    │   │                         non-flat input, a network past the layer limit
    │   ├── MemoryLimitExceeded   `verify`'s arrays would need more memory than allowed
    │   │                         (nothing was allocated)
    │   └── ProbeLimitExceeded    `verify`'s receptive-field probe or checks would take
    │                             more work than allowed (nothing ran)
    └── VerificationFailed        `verify` measured something the calculator did not
                                  predict: exit code 1

Errors carry what a person needs to act: the file, the line, the layer's position and
name, the field. Only the CLI turns them into exit codes and text on stderr.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from convcalc.textsafe import echo, printable

__all__ = [
    "ConvcalcError",
    "InputError",
    "LayerError",
    "MemoryLimitExceeded",
    "NetworkFileError",
    "ProbeLimitExceeded",
    "SpecError",
    "VerificationFailed",
    "format_location",
]

Location = tuple[str | int, ...]
"""A path into the network file: ('layers', 3, 'branches', 1, 0)."""


def format_location(location: Location) -> str:
    """Return a path like ``layers[3].branches[1][0]`` for a location tuple."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    if len(text) > 120:  # a path through absurd nesting: keep both ends
        text = f"{text[:48]} … {text[-60:]}"
    return text


@dataclass
class ConvcalcError(Exception):
    """Base of every error convcalc raises on purpose.

    Attributes:
        message: what is wrong and, where it helps, what to do.
    """

    message: str
    exit_code: int = field(default=2, init=False)

    def __str__(self) -> str:
        return self.message


@dataclass
class InputError(ConvcalcError):
    """The user's input (a file, flags) is invalid; exit code 2.

    ``describe`` escapes and cuts what it repeats of the user's (the layer's name, the
    file name's control characters), so a message stays one safe line.

    Attributes:
        source: the file name, or ``<stdin>``/``<flags>``; filled in by the loader or CLI.
        line: 1-based line in the source, when known.
        location: path of the offending layer or field in the file.
        layer: the layer's full name, when known.
        field_name: the offending field, when there is one.
    """

    source: str | None = None
    line: int | None = None
    location: Location = ()
    layer: str | None = None
    field_name: str | None = None

    def describe(self) -> str:
        """Return the one-line message with its file, line, layer and field prefixed."""
        where = []
        if self.source:
            source = printable(self.source)
            where.append(f"{source}:{self.line}" if self.line else source)
        if self.location:
            where.append(printable(format_location(self.location)))
        if self.layer:
            where.append(f"layer {echo(self.layer)}")
        quoted = echo(self.field_name) if self.field_name else ""
        named = (quoted in self.message or self.message.startswith(f"{self.field_name} ")
                 or f"`{self.field_name}`" in self.message)
        if self.field_name and not named:
            where.append(f"field {quoted}")
        prefix = ": ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message

    def __str__(self) -> str:
        return self.describe()


@dataclass
class NetworkFileError(InputError):
    """The network file cannot be read or parsed."""


@dataclass
class SpecError(InputError):
    """A layer or field in the network is invalid."""


@dataclass
class LayerError(InputError):
    """The layers are each valid but do not fit together."""


@dataclass
class MemoryLimitExceeded(InputError):
    """`verify`'s arrays would need more memory than allowed; nothing was allocated.

    Attributes:
        needed: bytes the arrays would need at once, by the estimate.
        limit: bytes allowed.
        probe: True when the receptive-field probe, not the batch, is what needs them.
    """

    needed: int = 0
    limit: int = 0
    probe: bool = False


@dataclass
class ProbeLimitExceeded(InputError):
    """`verify`'s receptive-field probe would take more work than allowed; nothing ran."""


@dataclass
class VerificationFailed(ConvcalcError):
    """`verify` measured a number the calculator did not predict; exit code 1."""

    def __post_init__(self) -> None:
        self.exit_code = 1
