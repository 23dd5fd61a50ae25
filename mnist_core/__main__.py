import sys

from .cli import main

# Guarded: the number reader's training spawns worker processes, which import this module.
if __name__ == "__main__":
    sys.exit(main())
