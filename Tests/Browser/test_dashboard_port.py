"""The dashboard is a convenience; the timers are not. A taken HTTP port must not stop the hub."""
import socket
import subprocess
import tempfile
from pathlib import Path

from conftest import Venue, wait_until


def test_the_hub_keeps_time_while_its_dashboard_port_is_taken_and_serves_once_it_is_free():
    with tempfile.TemporaryDirectory(prefix="playclock-browser-") as directory:
        venue = Venue(Path(directory))
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", venue.http_port))
        blocker.listen()
        try:
            venue.setup(wait_for_dashboard=False)
            hub = next(p for p in venue.processes if "playclockd" in p.args[0])
            log = venue.dir / "playclockd.log"
            wait_until(lambda: "dashboard could not serve" in log.read_text(), what="the dashboard failure in the log")

            # The hub itself runs: it is online on the broker and takes a session over MQTT.
            status = subprocess.run(
                ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(venue.broker_port), "-t", "playclock/hub/status", "-C", "1", "-W", "5"],
                capture_output=True, text=True, timeout=10)
            assert status.stdout.strip() == "online"
            answer = subprocess.run(
                ["mosquitto_rr", "-h", "127.0.0.1", "-p", str(venue.broker_port), "-t", "playclock/users/boss/request/session/start",
                 "-e", "playclock/users/boss/response/probe", "-m", '{"station":"PC-06","minutes":10}', "-W", "5"],
                capture_output=True, text=True, timeout=10)
            assert '"status":"ok"' in answer.stdout, answer.stdout + answer.stderr
            wait_until(lambda: venue.arrivals("PC-06", "unlock"), what="PC-06 unlocked while the dashboard is down")
            assert hub.poll() is None

            blocker.close()
            wait_until(lambda: venue.health().get("sessions_active") == 1, timeout=15, what="the dashboard to come up")
        finally:
            blocker.close()
            venue.stop()
