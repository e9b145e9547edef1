"""The rig tests use the seed catalogue in the database, as the configurator tests do."""

from tests.configurator.conftest import seeded, seeded_module  # noqa: F401
