"""The resident's complaint: category → description → photos → place → contact consent →
summary → the ticket (点单), dispatched to its queue (派单).

Decisions worth knowing:

- The draft lives in the FSM data as plain JSON (strings, numbers, lists and dicts), so a
  half-written complaint survives a restart with the database or the Redis storage.
- Back keeps what was entered: a step that already has a value shows it and offers to keep
  it (description, place), marks it (category, consent) or counts it (photos), and going
  forward again walks the steps in order. Edit on the summary asks what to change, opens
  that step, and returns to the summary as soon as it is done.
- A photo with a caption at the description step is taken as both: the caption is the
  description, the photo the first photo. A photo without a caption there gets a hint.
  A caption on a later photo is added to the description, when it still fits.
- An album arrives as one update per photo; it gets one reply (``albums.py``): the first
  photo's, which the next ones edit (the count goes up, and how many did not fit).
- The place step shows a reply keyboard with "share location"; the message that confirms
  the place removes it, as do Back and Cancel pressed here, and /cancel and /start
  (common.py).
- "Show my name and phone" asks for the phone (shared or typed) when none is on file,
  once a draft: without it the team could not call. Going on without one is a button.
- The nearby-duplicate hint needs coordinates: a place found from a typed address has none,
  so it gets no hint.
- Confirm commits the ticket and the team's push, then clears the state; a second press on
  Confirm finds no summary state and falls to the stale-button handler.
- /new and the menu button always start a fresh draft (after the daily-limit check).

Each flow is a module of this package: ``start`` (/new, the menu button, Cancel, Back),
``description`` (category and description), ``photos``, ``place``, ``duplicate`` (the
nearby-duplicate hint), ``contact`` (consent and the phone), ``summary`` (Edit, Confirm) and
``wrong_input`` (stale buttons and unexpected input). ``steps`` shows a step and moves
between steps, ``states`` holds the steps and how they link, ``shared`` the helpers several
flows use. ``router`` below is the one router they all register on.
"""

from redgrid.handlers.blueprint import Blueprint
from redgrid.handlers.callbacks import CategoryCb, ChoiceCb, DraftCb, FollowCb, MenuCb
from redgrid.handlers.complaint.states import Complaint

router = Blueprint(__name__)
router.messages_only(Complaint)
router.callbacks_only(CategoryCb, ChoiceCb, DraftCb, FollowCb, MenuCb)

# isort: off
# Importing a flow registers its handlers on ``router``, and aiogram tries them in
# registration order: keep this order (wrong input last), and never import one flow from
# another (it would register early).
from redgrid.handlers.complaint import (  # noqa: E402, F401
    start,
    description,
    photos,
    place,
    duplicate,
    contact,
    summary,
    wrong_input,
)
# isort: on
