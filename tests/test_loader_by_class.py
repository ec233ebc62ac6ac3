"""The loader validates each layer by its own class: the same models as the whole-file
validation, only the used types' validators built, and errors unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES, ROOT

from convcalc import zoo
from convcalc.errors import SpecError
from convcalc.loader import network_from_data
from convcalc.spec import Network

NETWORK_FILES = sorted(EXAMPLES.glob("*.yaml"))
ZOO = ["resnet50", "inception_v3", "densenet121", "mobilenet_v3_small", "convnext_tiny",
       "efficientnet_b0", "googlenet"]


def _data(text: str) -> object:
    return yaml.safe_load(text)


@pytest.mark.parametrize("path", NETWORK_FILES, ids=[p.name for p in NETWORK_FILES])
def test_example_networks_equal_the_whole_validation(path: Path) -> None:
    """Every example, validated layer by layer, equals pydantic's validation of the whole
    file through the union of every type: the same models and the same fields set."""
    data = _data(path.read_text(encoding="utf-8"))
    by_class = network_from_data(data, path.name, shared=True).network
    whole = Network.model_validate(data)
    assert by_class == whole
    assert by_class.model_dump() == whole.model_dump()
    assert _fields_set(by_class) == _fields_set(whole)


@pytest.mark.parametrize("name", [n for n in ZOO if n in zoo.names()])
def test_zoo_networks_equal_the_whole_validation(name: str) -> None:
    """The zoo's networks (aux heads, parallel branches, every family) too."""
    data = _data(zoo.text(name))
    by_class = network_from_data(data, name, shared=True).network
    whole = Network.model_validate(data)
    assert by_class == whole
    assert _fields_set(by_class) == _fields_set(whole)


def _fields_set(model: object) -> object:
    """Return the fields set of a model and of every model under it, in order."""
    if isinstance(model, (list, tuple)):
        return [_fields_set(item) for item in model]
    fields = getattr(model, "model_fields_set", None)
    if fields is None:
        return model
    return (type(model).__name__, sorted(fields),
            [_fields_set(getattr(model, f)) for f in sorted(type(model).model_fields)])


TYPES = ("adaptive_avgpool, adaptive_maxpool, aux, avgpool, batchnorm, channel_shuffle, conv, "
         "conv_transpose, dropout, elu, flatten, gelu, global_avgpool, global_maxpool, "
         "graph, groupnorm, hardsigmoid, hardswish, identity, instancenorm, layer_scale, "
         "layernorm, "
         "leaky_relu, linear, maxpool, mish, pad, parallel, prelu, relu, relu6, residual, "
         "sequential, sigmoid, silu, slice, softmax, stochastic_depth, tanh, unknown, upsample")


# Each mistake fails where its class (or a container's or the network's twin) refuses it,
# and is then reported from the union's error, by the loader's rule for that kind of error
# (docs/format.md): the same words the whole-file validation gave before layers were
# validated by class.
@pytest.mark.parametrize(("data", "message"), [
    ({"input": [3, 8, 8], "layers": [{"type": "sequential", "layers": [3]}]},
     "f.yaml: layers[0].layers[0]: a layer is a mapping with a 'type', or a bare type name "
     "like relu; got a number 3"),
    ({"input": [3, 8, 8], "layers": [{"type": "convv", "filters": 3, "kernel": 3}]},
     f"f.yaml: layers[0]: unknown layer type 'convv' (did you mean 'conv'?); the types are: "
     f"{TYPES}"),
    ({"input": [3, 8, 8], "layers": [{"type": "conv", "filters": 0, "kernel": 3}]},
     "f.yaml: layers[0]: field 'filters': should be greater than or equal to 1 (got 0)"),
    ({"input": [3, 8, 8], "layers": [{"type": "residual", "layers": ["relu"],
                                      "shortcut": "x"}]},
     "f.yaml: layers[0]: field 'shortcut': should be a valid list (got 'x')"),
    ({"input": [3, 8, 8], "name": 5, "layers": ["relu"]},
     "f.yaml: field 'name': 5 is not valid here; expected a name without dots or spaces "
     "(dots join the names of nested layers)"),
], ids=["body-number", "unknown-type", "bad-value", "body-not-a-list", "network-field"])
def test_errors_read_as_the_union_words_them(data: dict[str, object], message: str) -> None:
    """An invalid layer or network field is reported exactly as before, aliased or not."""
    for shared in (False, True):
        with pytest.raises(SpecError) as error:
            network_from_data(data, "f.yaml", shared=shared)
        assert str(error.value) == message


def test_net_builds_only_the_validators_of_the_types_it_uses() -> None:
    """`convcalc net resnet18` builds the validators of its seven layer classes only, not
    of the other twenty (nor the network's own, which its shallow twin stands in for)."""
    script = (
        "import json, sys\n"
        "sys.argv = ['convcalc', 'net', 'examples/resnet18.yaml', '--depth', '0']\n"
        "from convcalc.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "from convcalc.layers import REGISTRY\n"
        "from convcalc.spec import Network\n"
        "built = sorted({c.__name__ for c in REGISTRY.values() if c.__pydantic_complete__})\n"
        "sys.stderr.write(json.dumps([built, Network.__pydantic_complete__]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    built, network_built = json.loads(done.stderr.splitlines()[-1])
    # ResNet-18's types, as examples/resnet18.yaml writes them: conv, batchnorm, relu (an
    # Activation), maxpool, adaptive_avgpool (an AdaptivePool), flatten, linear; its
    # sequential and residual blocks are validated by twins, not by their classes.
    assert built == ["Activation", "AdaptivePool", "BatchNorm", "Conv", "Flatten", "Linear",
                     "MaxPool"]
    assert network_built is False
