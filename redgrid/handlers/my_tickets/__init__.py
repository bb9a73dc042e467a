"""My tickets: a person's own complaints and the ones they follow, each with its history;
more detail (a comment, a photo) while it is open, the answer to the team's question, and
the rating of the result.

Also what both sides share: one ticket shown to whoever asks (the team's view with its
buttons, the reporter's view, or "not found" for anyone else), the history in words, and
the light messages to a ticket's team.

One flow a module, all on the one ``router`` below: ``listing`` (/mytickets, its pages, one
ticket opened), ``comment``, ``photos``, ``answer`` (to the team's question), ``rating``
(and the reason for rework), ``nav`` (Done, Cancel), ``hints`` (wrong input, stale
buttons). ``shared``, ``history``, ``view`` and ``states`` hold what several of them (and
the team's and informants' packages) use.
"""

from redgrid.handlers.blueprint import Blueprint
from redgrid.handlers.callbacks import ChoiceCb, MenuCb, MyTicketsCb, RateCb, TicketCb
from redgrid.handlers.my_tickets.states import ReporterForm

router = Blueprint(__name__)
router.messages_only(ReporterForm)
router.callbacks_only(ChoiceCb, MenuCb, MyTicketsCb, RateCb, TicketCb)

# Each flow registers its handlers on ``router`` when imported, and aiogram tries them in
# that order: keep it. A step's catch-all hint (``hints``) must come after every handler
# of a step, and every specific button before the stale-button refusal.
# isort: off
from redgrid.handlers.my_tickets import listing  # noqa: E402, F401
from redgrid.handlers.my_tickets import comment  # noqa: E402, F401
from redgrid.handlers.my_tickets import photos  # noqa: E402, F401
from redgrid.handlers.my_tickets import answer  # noqa: E402, F401
from redgrid.handlers.my_tickets import rating  # noqa: E402, F401
from redgrid.handlers.my_tickets import nav  # noqa: E402, F401
from redgrid.handlers.my_tickets import hints  # noqa: E402, F401
# isort: on
