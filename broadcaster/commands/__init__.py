"""One module per group of subcommands; `broadcaster.cli` assembles them."""
