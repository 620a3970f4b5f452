"""``python -m licensing`` runs the command line."""

from licensing.cli import main

main()
