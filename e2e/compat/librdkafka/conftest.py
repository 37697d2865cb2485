import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixtures import broker, own_broker, topic_name  # noqa: E402,F401
