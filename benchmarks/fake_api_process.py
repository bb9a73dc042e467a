"""The fake Bot API of the tests in a process of its own, as Telegram is a server of its own.

    .venv/bin/python benchmarks/fake_api_process.py TOKEN [--cpu N]

Serves ``tests/fake_bot_api.FakeBotApi`` (enforcing Telegram's limits) on 127.0.0.1 and
prints ``{"base_url": ...}`` on one line once it listens. A line on standard input (or
its end) stops it; it then prints ``{"rate_limited": N, "calls": [...]}`` on one line,
each call with its method, chat, status, text and arrival time (this process's
monotonic clock). A benchmark that shares its event loop with the fake server counts
every pause of the bot (a query, a collection) as a delay of the network, and sees the
requests that had already left arrive together.
"""

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ beside the package

from tests.fake_bot_api import FakeBotApi


async def serve(token: str) -> None:
    async with FakeBotApi(token=token, enforce_limits=True) as api:
        print(json.dumps({"base_url": api.base_url}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    calls = [
        {
            "method": call.method,
            "chat_id": call.chat_id,
            "status": call.status,
            "text": call.text,
            "timestamp": call.timestamp,
        }
        for call in api.calls
    ]
    print(json.dumps({"rate_limited": api.rate_limited, "calls": calls}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("token")
    parser.add_argument("--cpu", type=int, default=-1, help="pin to this CPU; -1: any")
    args = parser.parse_args()
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    asyncio.run(serve(args.token))


if __name__ == "__main__":
    main()
