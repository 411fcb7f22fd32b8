"""Subcommands of the `courtroom` CLI, one module per command group."""
