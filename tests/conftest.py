import os
import tempfile

import pytest

# Importing prefect creates PREFECT_HOME (default ~/.prefect); keep test runs out of the home folder.
os.environ.setdefault("PREFECT_HOME", os.path.join(tempfile.gettempdir(), "worldsim-tests-prefect"))


def pytest_collection_modifyitems(config, items):
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in gpu_items:
        item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_plugins():
    from worldsim import plugins

    plugins.reset()
    yield
    plugins.reset()
