"""Run the command line: ``python -m datadivr``."""

from datadivr.cli import main

if __name__ == "__main__":
    main()
