"""Run the command line: ``python -m datadivr``."""

from datadivr._entry import main

if __name__ == "__main__":
    main()
