"""Row names from ONNX node names.

The rule, for a node name such as torch's ``/layer1/layer1.0/conv1/Conv``:

1. split on ``/`` and drop empty parts;
2. drop the last part when it is the node's op type, alone or with a counter
   (``Conv``, ``Conv_1``): torch appends it to the module's scope;
3. join the parts into one dotted module path: torch names a module of a Sequential by
   its parent's name, a dot and its index, so a part ``A.b`` whose ``A`` ends the path so
   far replaces that ``A`` (``layer1`` then ``layer1.0`` gives ``layer1.0``;
   ``layer1.0``, ``downsample``, ``downsample.0`` gives ``layer1.0.downsample.0``), and
   other parts are appended (``layer1.0`` then ``conv1`` gives ``layer1.0.conv1``);
4. replace every character that a network file's name may not hold (dots, whitespace) and
   every other character outside letters, digits, ``_`` and ``-`` by ``_``, squeeze runs
   of ``_`` and cut to 200 characters: ``layer1_0_conv1``;
5. a node left without a name (no name, or only its op type, as torch's ``/Flatten``)
   takes its op type in lower case (``flatten``); ``input`` becomes ``input_``;
6. a name taken by an earlier node gets the first free suffix ``_1``, ``_2``, … .
"""

from __future__ import annotations

import re

__all__ = ["MAX_NAME", "RowNames"]

MAX_NAME = 200
_UNSAFE = re.compile(r"[^0-9A-Za-z_\-]+")
_RUNS = re.compile(r"_{2,}")


def _scope_path(parts: list[str]) -> str:
    """Return torch's scope parts as one dotted module path (rule 3)."""
    path: list[str] = []
    for part in parts:
        pieces = part.split(".")
        for overlap in range(min(len(pieces) - 1, len(path)), 0, -1):
            if path[-overlap:] == pieces[:overlap]:
                path = path[:-overlap]
                break
        path.extend(pieces)
    return ".".join(path)


def readable(onnx_name: str, op_type: str) -> str:
    """Return the sanitised name of a node (rules 1–5), not yet made unique."""
    parts = [part for part in onnx_name.split("/") if part]
    if parts and re.fullmatch(re.escape(op_type) + r"(_\d+)?", parts[-1]):
        parts.pop()
    text = _RUNS.sub("_", _UNSAFE.sub("_", _scope_path(parts))).strip("_")
    text = text[:MAX_NAME] or op_type.lower()[:MAX_NAME] or "node"
    text = _RUNS.sub("_", _UNSAFE.sub("_", text)).strip("_") or "node"
    return "input_" if text == "input" else text


class RowNames:
    """Unique row names, handed out in node order (rule 6)."""

    def __init__(self) -> None:
        self.taken: set[str] = set()
        self.counters: dict[str, int] = {}  # the last suffix tried per base: a file of
        # 100,000 nodes of one name costs linear time, not quadratic

    def unique(self, onnx_name: str, op_type: str) -> str:
        """Return a name for this node that no earlier node has."""
        base = readable(onnx_name, op_type)
        name, counter = base, self.counters.get(base, 0)
        while name in self.taken:
            counter += 1
            suffix = f"_{counter}"
            name = base[:MAX_NAME - len(suffix)] + suffix
        self.counters[base] = counter
        self.taken.add(name)
        return name
