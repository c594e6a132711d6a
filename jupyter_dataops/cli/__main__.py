"""``python -m jupyter_dataops.cli``."""

from jupyter_dataops.cli import main

main()
