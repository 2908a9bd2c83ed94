"""Stopping the hub while dashboards are watching: open live feeds must not hold it up."""
import json
import signal
import threading
import time
import urllib.request

from conftest import wait_until


def test_sigterm_with_open_live_feeds_stops_the_hub_promptly_and_ends_the_feeds(venue):
    token = venue.board_link.split("token=", 1)[1]
    hub = next(p for p in venue.processes if "playclockd" in p.args[0])
    ended = []

    def watch():
        with urllib.request.urlopen(f"{venue.url}/api/live?token={token}", timeout=30) as response:
            assert response.headers["Content-Type"].startswith("text/event-stream")
            first = b""
            for line in response:
                first += line
                if line == b"\n" and b"snapshot" in first:
                    break
            snapshot = json.loads(next(l for l in first.splitlines() if l.startswith(b"data: "))[6:])
            assert len(snapshot["stations"]) == 12
            for _ in response:  # read until the hub ends the stream
                pass
        ended.append(time.monotonic())

    watchers = [threading.Thread(target=watch, daemon=True) for _ in range(3)]
    for w in watchers:
        w.start()
    wait_until(lambda: "playclock_dashboard_live_clients 3.0" in
               urllib.request.urlopen(venue.url + "/metrics", timeout=2).read().decode(), what="3 live feeds")

    sent = time.monotonic()
    hub.send_signal(signal.SIGTERM)
    hub.wait(timeout=10)
    stopped = time.monotonic() - sent
    assert hub.returncode == 0, f"playclockd exited with {hub.returncode}"
    assert stopped < 5, f"playclockd took {stopped:.1f} s to stop"
    for w in watchers:
        w.join(timeout=5)
    assert len(ended) == 3, "every live feed ended with the hub"
    log = (venue.dir / "playclockd.log").read_text()
    assert "hub stopped" in log
