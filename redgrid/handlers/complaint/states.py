"""The complaint's steps (its FSM states) and the tables that link them: the next step,
where Back leads, what Edit offers, each step's hint for unexpected input."""

from aiogram.fsm.state import State, StatesGroup

from redgrid.languages import N_


class Complaint(StatesGroup):
    category = State()
    description = State()
    photos = State()
    place = State()
    place_address = State()
    place_choice = State()
    duplicate = State()
    consent = State()
    phone = State()
    summary = State()
    edit = State()


PLACE_STATES = (Complaint.place, Complaint.place_address, Complaint.place_choice)
PLACE_STATE_NAMES = frozenset(s.state for s in PLACE_STATES)
# The step that finishing a step leads to, before the summary was first shown.
NEXT = {
    Complaint.category.state: Complaint.description,
    Complaint.description.state: Complaint.photos,
    Complaint.photos.state: Complaint.place,
    Complaint.place.state: Complaint.consent,
    Complaint.consent.state: Complaint.summary,
}
BACK_TO = {
    Complaint.description.state: Complaint.category,
    Complaint.photos.state: Complaint.description,
    Complaint.place.state: Complaint.photos,
    Complaint.place_address.state: Complaint.place,
    Complaint.place_choice.state: Complaint.place_address,
    Complaint.duplicate.state: Complaint.place,
    Complaint.consent.state: Complaint.place,
    Complaint.phone.state: Complaint.consent,
    Complaint.summary.state: Complaint.consent,
    Complaint.edit.state: Complaint.summary,
}
EDIT_TARGETS = (
    (Complaint.category, N_("🏷 Category")),
    (Complaint.description, N_("✍️ Description")),
    (Complaint.photos, N_("📷 Photos")),
    (Complaint.place, N_("📍 Place")),
    (Complaint.consent, N_("👤 Contact")),
)
HINTS = {
    Complaint.category.state: N_("Please choose a category with the buttons."),
    Complaint.description.state: N_(
        "Please describe the problem in words (up to 1000 characters). Photos come in the "
        "next step, or send a photo with the description as its caption."
    ),
    Complaint.photos.state: N_("Please send photos, or press Done (or Skip if you have none)."),
    Complaint.place.state: N_(
        "Please share a location with the 📍 button, or type the name of the compound or "
        "an address."
    ),
    Complaint.place_address.state: N_(
        "Please type the name of the compound or an address, or share a location."
    ),
    Complaint.place_choice.state: N_(
        "Please choose one of the places with the buttons, or type the address again."
    ),
    Complaint.duplicate.state: N_("Please choose: follow that complaint, or file yours anyway."),
    Complaint.consent.state: N_("Please choose one of the two buttons."),
    Complaint.phone.state: N_(
        "Please share your phone number with the 📱 button or type it, or go on with your "
        "name only."
    ),
    Complaint.summary.state: N_("Please check the summary and press Confirm, Edit or Cancel."),
    Complaint.edit.state: N_("Please choose what to change with the buttons."),
}
