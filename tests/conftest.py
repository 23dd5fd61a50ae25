import sys
from pathlib import Path

# Tests import the project (mnist_core, app_pages) and their own helpers without installation.
sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]
