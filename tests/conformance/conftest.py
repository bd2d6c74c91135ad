import pytest

from tests.conformance.families import build_family


@pytest.fixture(scope="session")
def family_dir(tmp_path_factory):
    """`family_dir(name)`: the family's tiny model dir, built once per test session."""
    root = tmp_path_factory.mktemp("families")
    return lambda name: build_family(name, root)
