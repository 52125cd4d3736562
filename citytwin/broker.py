"""A local MQTT broker for the demo: Mosquitto when installed, else the embedded amqtt."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
from pathlib import Path

_MOSQUITTO_PLACES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def mosquitto_binary() -> str | None:
    """Path of the mosquitto executable, or None (it lives in sbin, often not on PATH)."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((p for p in _MOSQUITTO_PLACES if Path(p).exists()), None)


def broker_argv(port: int, workdir: Path) -> tuple[str, list[str]]:
    """(broker name, command line) for a broker on 127.0.0.1:port keeping state in workdir."""
    binary = mosquitto_binary()
    if binary is None:
        return "amqtt", [sys.executable, "-m", "citytwin.broker", str(port)]
    state = workdir / f"mosquitto-{port}"
    state.mkdir(parents=True, exist_ok=True)
    conf = state / "mosquitto.conf"
    # Started as root, mosquitto would switch to its own user, who cannot write our folder.
    user = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"
        "persistence true\n"
        f"persistence_location {state}/\n"
        "max_queued_messages 100000\n" + user
    )
    return "mosquitto", [binary, "-c", str(conf)]


async def _serve_amqtt(port: int) -> None:
    from amqtt.broker import Broker

    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {}},
        }
    )
    await broker.start()
    try:
        await asyncio.Event().wait()
    finally:
        await broker.shutdown()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_amqtt(int(sys.argv[1])))
