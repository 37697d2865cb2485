import sys
from pathlib import Path

# The broker launcher, fixtures and client helpers live with the librdkafka suite.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "librdkafka"))

from fixtures import broker, pytest_collection_modifyitems, pytest_configure, topic_name  # noqa: E402,F401
