"""The `geowire` command: one entry point that dispatches to each package's commands."""
