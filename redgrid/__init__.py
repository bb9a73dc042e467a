"""redgrid: a Telegram bot for a city district's red-grid governance."""

from redgrid import lean_aiogram

# Before anything imports aiogram: its models are then built on first use, not at import.
lean_aiogram.install()
