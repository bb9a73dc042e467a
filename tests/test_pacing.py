"""The pacer keeps Telegram's limits on a fake clock."""

from redgrid.bot.pacing import Limits, SendPacer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_message_a_second_to_a_private_chat():
    clock = Clock()
    pacer = SendPacer(clock=clock)
    assert pacer.delay(5) == 0
    pacer.record(5)
    assert pacer.delay(5) == 1.0
    clock.now += 0.4
    assert pacer.delay(6) == 0  # another chat is not held up
    assert abs(pacer.delay(5) - 0.6) < 1e-9
    clock.now += 0.6
    assert pacer.delay(5) == 0


def test_twenty_a_minute_to_a_group():
    clock = Clock()
    pacer = SendPacer(clock=clock)
    for _ in range(20):
        assert pacer.delay(-100) == 0
        pacer.record(-100)
        clock.now += 1
    assert abs(pacer.delay(-100) - 40) < 1e-9  # the first of the 20 leaves the window at 60 s
    clock.now += 40
    assert pacer.delay(-100) == 0


def test_overall_rate_is_a_sliding_second():
    clock = Clock()
    pacer = SendPacer(Limits(per_second=3), clock=clock)
    for chat in (1, 2, 3):
        assert pacer.delay(chat) == 0
        pacer.record(chat)
        clock.now += 0.1
    assert abs(pacer.delay(4) - 0.7) < 1e-9
    clock.now += 0.7
    assert pacer.delay(4) == 0


def test_a_429_pauses_everything():
    clock = Clock()
    pacer = SendPacer(clock=clock)
    pacer.pause(3)
    assert pacer.delay(1) == 3
    assert pacer.delay(-5) == 3
    clock.now += 3
    assert pacer.delay(1) == 0


def test_sends_never_leave_in_a_burst():
    """Even with the whole second's allowance free, two sends keep ``spacing`` apart."""
    clock = Clock()
    pacer = SendPacer(Limits(spacing=0.025), clock=clock)
    pacer.record(1)
    assert abs(pacer.delay(2) - 0.025) < 1e-9
    clock.now += 0.025
    assert pacer.delay(2) == 0
