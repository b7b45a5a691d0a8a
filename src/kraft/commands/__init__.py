"""The `kraft` commands, one module per topic.

Each module has `register(app)`, which adds its commands (or its group of sub-commands) to the
Typer app; kraft.cli calls them in turn. The helpers they share (consoles, the workspace, its
database) are in `kraft.commands.common`. Modules import heavy libraries inside the commands, so
that `kraft --help` stays quick.
"""
