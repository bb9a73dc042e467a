"""Telegram's sending limits, kept before Telegram has to enforce them with a 429.

Telegram allows a bot about 30 messages a second overall, one a second to one private
chat and 20 a minute to one group. The pacer tracks recent sends in sliding windows and
says how long a send to a chat must wait; a 429 pauses everything for its
``retry_after``. Two sends are also kept ``spacing`` apart (1/40 s: a little faster
than 29 a second, so the window still sets the rate). Telegram counts arrivals, and a
burst that leaves together arrives spread by whatever delays each request (a pause of the
event loop, the server's own queue), so a second later the pacer would free the burst's
slots before Telegram does: without the spacing, ``benchmarks/outbox.py`` saw 429s.
Time comes from an injectable clock so tests never sleep.
"""

import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    per_second: int = 29  # a little under Telegram's 30, so jitter never crosses it
    private_chat_interval: float = 1.0
    group_per_minute: int = 20
    spacing: float = 1 / 40  # the shortest time between two sends, to any chats


class SendPacer:
    def __init__(self, limits: Limits = Limits(), clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self.clock = clock
        self._recent: deque[float] = deque()
        self._by_chat: defaultdict[int, deque[float]] = defaultdict(deque)
        self._paused_until = 0.0

    def delay(self, chat_id: int) -> float:
        """Seconds until a message to ``chat_id`` may be sent (0: now)."""
        now = self.clock()
        waits = [self._paused_until - now]
        self._forget(self._recent, now - 1.0)
        if self._recent:
            waits.append(self._recent[-1] + self.limits.spacing - now)
            if len(self._recent) >= self.limits.per_second:
                waits.append(self._recent[0] + 1.0 - now)
        chat = self._by_chat.get(chat_id)
        if chat:
            if chat_id < 0:
                self._forget(chat, now - 60.0)
                if len(chat) >= self.limits.group_per_minute:
                    waits.append(chat[0] + 60.0 - now)
            else:
                waits.append(chat[-1] + self.limits.private_chat_interval - now)
        return max(0.0, *waits)

    def record(self, chat_id: int) -> None:
        """Count a send that starts now."""
        now = self.clock()
        self._recent.append(now)
        chat = self._by_chat[chat_id]
        chat.append(now)
        if chat_id > 0:
            while len(chat) > 1:
                chat.popleft()

    def pause(self, seconds: float) -> None:
        """Telegram said 429: nothing goes out for ``seconds``."""
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    @staticmethod
    def _forget(window: deque[float], before: float) -> None:
        while window and window[0] <= before:
            window.popleft()
