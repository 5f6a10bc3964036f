"""`python -m nnkit.cli`: the `nnkit` command."""

from nnkit.cli import main

main()
