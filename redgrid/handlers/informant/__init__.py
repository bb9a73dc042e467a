"""Red informants (红色信息员): the profile after the invite link, reports from the road,
``/mine`` and ``/top``, the team's 评单 of a report, and ``/informants`` (admins, officers).

Decisions worth knowing:

- Informants are on the move, one hand on the handlebar: after the photo a report takes
  three taps (share location → category → "Send without a note"); a note, typed or a
  voice message, replaces the third tap, and a photo's caption is taken as the note, so
  then the category sends it. No summary, no confirmation, no duplicate hint (the team
  grades a duplicate as such).
- A photo sent with no conversation going starts a report, but only for someone who holds
  the informant role; anyone else's photo goes on to the fallback as before. An album is
  one report: its first photo asks for the location, the others are added silently.
- The location alone routes the report (a typed address cannot): the foundation's
  point-in-polygon, else the nearest grid within the buffer; beyond that the informant is
  told the spot is outside the district and nothing is filed (they may share another).
- A picture sent as a file keeps the camera's EXIF, where a location may be: the file is
  downloaded (up to 10 MB) and read by ``informants.exif_gps``. The team's pushes send
  photos by file id, and a document's id is not a photo's, so the bot sends the picture
  back to the informant as a photo and keeps that photo's id.
- The informant's "menu button" is a reply keyboard (report, my reports, leaderboard),
  shown after joining and after each report: it stays under the chat while they ride.
- The team grades a report after resolving it or marking it invalid (``team.py`` calls
  ``offer_grade``), or later with ``/grade NUMBER``. Who may grade, and that points are
  granted once, is the service's business.

Where each flow lives: ``join`` (the profile), ``report`` (who may report, photos,
location), ``report_send`` (category, note, filing; Back, Cancel, the step's hint),
``mine_and_top``, ``grading`` (评单), ``voice`` (the team's ▶️ Play button), ``admin``
(``/informants``), ``stale`` (refused old buttons); ``shared``, ``states`` and
``report_prompts`` hold what several of them use. One ``router`` serves them all.
"""

from redgrid.handlers.blueprint import Blueprint
from redgrid.handlers.callbacks import GradeCb, InformantAdminCb, JoinCb, ReportCb, VoiceCb
from redgrid.handlers.informant.states import JoinForm, ReportForm

router = Blueprint(__name__)

router.messages_only(JoinForm, ReportForm, idle=True)
router.callbacks_only(GradeCb, InformantAdminCb, JoinCb, ReportCb, VoiceCb)

# The flows register their handlers on ``router`` as they are imported, and aiogram tries
# handlers in that order: keep this order (stale buttons last), not the alphabet's.
# isort: off
from redgrid.handlers.informant import join  # noqa: E402, F401
from redgrid.handlers.informant import report  # noqa: E402, F401
from redgrid.handlers.informant import report_send  # noqa: E402, F401
from redgrid.handlers.informant import mine_and_top  # noqa: E402, F401
from redgrid.handlers.informant import grading  # noqa: E402, F401
from redgrid.handlers.informant import voice  # noqa: E402, F401
from redgrid.handlers.informant import admin  # noqa: E402, F401
from redgrid.handlers.informant import stale  # noqa: E402, F401
# isort: on

# What other handler modules use (invites, complaint, team).
from redgrid.handlers.informant.grading import offer_grade  # noqa: E402
from redgrid.handlers.informant.join import contact_keyboard, start_profile  # noqa: E402

__all__ = ["contact_keyboard", "offer_grade", "router", "start_profile"]
