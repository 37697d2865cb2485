import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixtures import broker, pytest_collection_modifyitems, pytest_configure, restartable, topic_name  # noqa: E402,F401
