"""The grid team's side of a ticket: accept, transfer, consultation, invalid, duplicate,
resolve, extend, ask the reporter; the queue and one ticket by number.

Every button re-checks on the server who presses it and where the ticket stands (the
services raise NotAllowed / IllegalTransition / AlreadyTaken). A team may press buttons in
its group chat; a step that needs typing then continues in the member's private chat,
where the bot reads plain text, so the conversation state is kept under that chat.

One flow a module, all on the one ``router`` below: ``cards`` (Accept, To consultation,
Invalid), ``transfer``, ``resolve``, ``extend``, ``ask``, ``duplicate``, ``nav`` (Back, Skip,
Cancel), ``queue`` (/queue, /ticket), ``hints`` (wrong input, stale buttons); ``shared``
and ``states`` hold what several of them use.
"""

from redgrid.handlers.blueprint import Blueprint
from redgrid.handlers.callbacks import ChoiceCb, MenuCb, MergeCb, TicketCb
from redgrid.handlers.team.states import TeamForm

router = Blueprint(__name__)
router.messages_only(TeamForm)
router.callbacks_only(ChoiceCb, MenuCb, MergeCb, TicketCb)

# Each flow registers its handlers on ``router`` when imported, and aiogram tries them in
# that order: keep it. A step's catch-all hint (``hints``) must come after /queue and
# /ticket (``queue``), and every specific button before the stale-button refusal.
# isort: off
from redgrid.handlers.team import cards  # noqa: E402, F401
from redgrid.handlers.team import transfer  # noqa: E402, F401
from redgrid.handlers.team import resolve  # noqa: E402, F401
from redgrid.handlers.team import extend  # noqa: E402, F401
from redgrid.handlers.team import ask  # noqa: E402, F401
from redgrid.handlers.team import duplicate  # noqa: E402, F401
from redgrid.handlers.team import nav  # noqa: E402, F401
from redgrid.handlers.team import queue  # noqa: E402, F401
from redgrid.handlers.team import hints  # noqa: E402, F401
# isort: on
