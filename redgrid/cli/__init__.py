"""The ``redgrid`` command line: set up the database, load the district, check routing.

It speaks the operator's language, chosen once as the command starts: a ``zh`` or ``en``
locale in the environment, else DEFAULT_LOCALE (``operator_locale``). Its output and its
help texts are msgids of the bot's catalogues; ids, codes, URLs and times print as they are.

Exit codes: 0 done, 1 refused or not found, 2 bad usage, 3 ambiguous address.
"""

# Each module registers its commands as it is imported, and `redgrid --help` lists them in
# that order: run, webhook (bot), init, route (district), invite, invites (invites),
# informants, members (people), then the db and district groups. The imports stay sorted,
# so a new module's name decides where its commands appear.
from redgrid.cli import bot, db, district, invites, people  # noqa: F401
from redgrid.cli.base import EXIT_AMBIGUOUS, EXIT_REFUSED, EXIT_USAGE, app, operator_locale

__all__ = ["EXIT_AMBIGUOUS", "EXIT_REFUSED", "EXIT_USAGE", "app", "operator_locale"]
