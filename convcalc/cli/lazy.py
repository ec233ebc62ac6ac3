"""Commands that load when they are run: ``convcalc layer`` imports ``convcalc.cli.calc``
alone, and ``convcalc --help`` imports no command at all.

Each command module registers its commands on the typer app when imported; the group
below knows every command's module and one-line description, imports the module when
the command is asked for, and converts just that command to click.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

from typer._click import Command, Context
from typer.core import TyperGroup

from convcalc.cli import helptext

__all__ = ["COMMANDS", "CommandEntry", "LazyGroup"]


class CommandEntry(NamedTuple):
    """Where a command is defined, and what ``convcalc --help`` says of it."""

    module: str
    summary: str


COMMANDS = {
    "layer": CommandEntry("convcalc.cli.calc", "One layer from flags: its output, "
                          "parameters, MACs, FLOPs."),
    "net": CommandEntry("convcalc.cli.calc", "A whole network from a YAML file, a row "
                        "per layer."),
    "diff": CommandEntry("convcalc.cli.diff", "Two networks compared row by row and in "
                         "total."),
    "export": CommandEntry("convcalc.cli.export", "Write the network as a PyTorch module."),
    "import": CommandEntry("convcalc.cli.importing", "Write an ONNX model as a network file "
                           "(YAML)."),
    "plot": CommandEntry("convcalc.cli.plot", "Draw where a network's cost goes "
                         "(matplotlib)."),
    "schema": CommandEntry("convcalc.cli.schema", "Print the JSON Schema of network files."),
    "verify": CommandEntry("convcalc.cli.verify", "Run the network on arrays and confirm "
                           "every number."),
    "solve": CommandEntry("convcalc.cli.solve", "Kernel settings for an output size, "
                          "'same' padding, input sizes."),
    "zoo": CommandEntry("convcalc.cli.zoo", "The built-in networks: torchvision's CNNs "
                        "as zoo:NAME."),
}
"""Every command, in the order ``convcalc --help`` lists them."""


def _build(name: str) -> Command | None:
    """Import ``name``'s module and return its click command (or group), help installed."""
    from typer.main import get_command_from_info, get_command_name, get_group_from_info

    from convcalc.cli.app import app

    importlib.import_module(COMMANDS[name].module)
    for info in app.registered_commands:
        called = info.name or get_command_name(getattr(info.callback, "__name__", ""))
        if called == name:
            return helptext.install(get_command_from_info(
                info, pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode))
    for group in app.registered_groups:
        instance = group.typer_instance
        group_name = group.name if isinstance(group.name, str) else None
        if group_name is None and instance is not None:
            group_name = instance.info.name if isinstance(instance.info.name, str) else None
        if group_name == name:
            return helptext.install(get_group_from_info(
                group, pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode, suggest_commands=True))
    return None  # pragma: no cover - every module registers the commands it is listed for


class LazyGroup(TyperGroup):
    """A typer group whose commands are imported and built on first use."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        for command in self.commands.values():  # built already: their modules were loaded
            helptext.install(command)

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in COMMANDS:
            command = _build(cmd_name)
            if command is not None:
                self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: Context, formatter: Any) -> None:
        # The one-line descriptions come from the table: listing loads no command.
        rows = [(name, entry.summary) for name, entry in COMMANDS.items()]
        formatter.write(helptext.render(self, ctx, rows))
