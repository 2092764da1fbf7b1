"""The hand-made history with refreshed marts (tests/views), to render the report from."""

from tests.views.conftest import marts  # noqa: F401
