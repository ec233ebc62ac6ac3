"""``convcalc schema``: the JSON Schema of the network file, for editors."""


import json

from convcalc.cli.app import app, console
from convcalc.cli.output import ForceOption, OutputPathOption, write_output
from convcalc.textsafe import printable

__all__ = ["schema"]


@app.command()
def schema(output: OutputPathOption = None, force: ForceOption = False) -> None:
    """Print the JSON Schema of network files, for editors that check YAML against one.

    Example: convcalc schema -o convcalc.schema.json
    """
    from convcalc.schema import network_schema  # builds every model's schema, only here

    write_output(json.dumps(network_schema(), indent=2, ensure_ascii=False) + "\n", output,
                 force)
    if output not in (None, "-"):
        console(stderr=True).print(f"wrote {printable(output)}", markup=False)
