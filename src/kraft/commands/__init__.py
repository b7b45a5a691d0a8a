"""The `kraft` sub-commands beyond the core ones in `kraft.cli`, one module per topic.

Each module has `register(app)`, which adds its commands to the Typer app; the helpers they share
with `kraft.cli` (consoles, the workspace, its database) are in `kraft.commands.common`. Modules
import heavy libraries inside the commands, so that `kraft --help` stays quick.
"""
