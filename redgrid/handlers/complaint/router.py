"""The complaint conversation's one router. Its flows register their handlers on it as
the package imports them (``__init__.py``), in the order aiogram tries them."""

from redgrid.handlers.blueprint import Blueprint
from redgrid.handlers.callbacks import CategoryCb, ChoiceCb, DraftCb, MenuCb, TicketCb
from redgrid.handlers.complaint.states import Complaint

router = Blueprint(__package__)  # named "redgrid.handlers.complaint", as before the split
router.messages_only(Complaint)
router.callbacks_only(CategoryCb, ChoiceCb, DraftCb, MenuCb, TicketCb)
