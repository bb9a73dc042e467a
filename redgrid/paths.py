"""Where the project's resource folders live.

In a source checkout (the usual deployment, ``pip install -e .``) ``data/``, ``locales/``
and ``migrations/`` sit beside the ``redgrid`` package; a built wheel carries them inside
``redgrid/_resources``. Callers ask here instead of guessing.
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_BUNDLED = PACKAGE_DIR / "_resources"
_CHECKOUT = PACKAGE_DIR.parent


def resource(name: str) -> Path:
    """Return the path of a top-level resource (``data``, ``migrations``, ``alembic.ini``...)."""
    bundled = _BUNDLED / name
    return bundled if bundled.exists() else _CHECKOUT / name


DATA_DIR = resource("data")
SAMPLE_DISTRICT = DATA_DIR / "dongxiang.geojson"
