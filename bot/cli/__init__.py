"""The `shegong` command line: one module per command group, shared helpers in common."""
