"""Build hook: compile the gettext catalogues, so no install ever lacks its .mo files.

Runs for wheels and for editable installs (``pip install -e .``); aiogram's I18n refuses
to start on a .po without its compiled .mo.
"""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def compile_catalogues(locales: Path) -> list[Path]:
    compiled = []
    for po_path in sorted(locales.glob("*/LC_MESSAGES/*.po")):
        with po_path.open("rb") as po_file:
            catalogue = read_po(po_file, locale=po_path.parent.parent.name)
        mo_path = po_path.with_suffix(".mo")
        with mo_path.open("wb") as mo_file:
            write_mo(mo_file, catalogue)
        compiled.append(mo_path)
    return compiled


class CompileCataloguesHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        # A wheel carries locales/ whole (force-include in pyproject.toml), .mo files too.
        compile_catalogues(Path(self.root) / "locales")
