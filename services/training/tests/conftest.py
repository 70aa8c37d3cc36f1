import sys
from pathlib import Path

# Lets the tests import their helpers (training_datasets.py, training_servers.py) by name.
sys.path.insert(0, str(Path(__file__).resolve().parent))
