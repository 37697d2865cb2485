import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixtures import broker, own_broker, pytest_collection_modifyitems, pytest_configure, topic_name  # noqa: E402,F401
