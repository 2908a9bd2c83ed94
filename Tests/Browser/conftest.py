"""A real venue on loopback for the browser tests: Mosquitto on a free port, the real playclockd
(serving the dashboard) on a fresh SQLite file, simulated PC agents and plugs from playclock-sim,
and headless Chromium driven through chromedriver. Everything is killed with SIGKILL at the end,
by process group: each process started here leads a group of its own (with whatever it starts,
e.g. chromedriver's Chromium), in the test run's session, so scripts/test.sh can also sweep up
what a killed run leaves behind. Nothing is ever killed by name."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("PLAYCLOCK_BIN", ROOT / ".build" / "debug"))
PASSWORDS = {"boss": "boss-password-1", "desk": "desk-password-1", "tv": "tv-password-01"}
ROLES = {"boss": "manager", "desk": "cashier", "tv": "viewer"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Venue:
    def __init__(self, directory: Path, pricing=False):
        self.dir = directory
        # With `pricing`, the hub is seeded with the sample venue's prices (samples/pricing.json),
        # as scripts/run.sh does; without, it has none and the desk gives time without charge only.
        self.pricing = pricing
        self.database = directory / "playclock.sqlite"
        self.broker_port = free_port()
        self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.record = directory / "agents.csv"
        self.processes = []

    def start(self, name, args):
        log = open(self.dir / f"{name}.log", "wb")
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir, process_group=0)
        self.processes.append(process)
        return process

    def run_tool(self, *args):
        return subprocess.run([str(BIN / "playclock"), *args], check=True, capture_output=True, text=True, timeout=60).stdout

    def setup(self, wait_for_dashboard=True):
        conf = (ROOT / "mosquitto" / "dev.conf.in").read_text().replace("@PORT@", str(self.broker_port))
        (self.dir / "mosquitto.conf").write_text(conf)
        self.start("mosquitto", ["mosquitto", "-c", str(self.dir / "mosquitto.conf")])
        wait_until(lambda: self._connects(self.broker_port), what="mosquitto")

        users = self.dir / "dashboard.passwd"
        for account, password in PASSWORDS.items():
            pw = self.dir / f"{account}.pw"
            pw.write_text(password + "\n")
            self.run_tool("dashboard", "passwd", account, "--file", str(users), "--password-file", str(pw), "--cost", "10")
        link = self.run_tool("dashboard", "board-token", "--out", str(self.dir / "board.token"), "--url", self.url)
        self.board_link = link.strip()
        config = {
            "roles": ROLES,
            "http": {"listen": f"127.0.0.1:{self.http_port}", "users_file": str(users),
                     "board_token_file": str(self.dir / "board.token")},
            "policy": {"heartbeat_interval_s": 1, "missed_heartbeats": 3},
        }
        if self.pricing:
            config["pricing"] = json.loads((ROOT / "samples" / "pricing.json").read_text())
        (self.dir / "playclockd.json").write_text(json.dumps(config))
        broker = f"mqtt://127.0.0.1:{self.broker_port}"
        self.start("playclockd", [str(BIN / "playclockd"), "--config", str(self.dir / "playclockd.json"), "--broker", broker,
                                  "--database", str(self.database), "--venue", str(ROOT / "samples" / "venue.json")])
        self.start("sim", [str(BIN / "playclock-sim"), "--broker", broker, "--pcs", "8", "--heartbeat-interval", "1",
                           "--tasmota", "ps5-plug-1,ps5-plug-2", "--shelly1", "shellyplug-s-xbox1",
                           "--shelly2", "shellyplusplugs-switch1", "--record", str(self.record)])
        if wait_for_dashboard:
            wait_until(lambda: self.health().get("online") == 8, timeout=20, what="8 agents online")

    def publish(self, topic, payload):
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.broker_port), "-t", topic, "-m", payload],
                       check=True, timeout=10)

    def health(self):
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                return json.loads(response.read())
        except Exception:
            return {}

    def arrivals(self, station, action):
        """Control messages the simulated agent of `station` received, as (session, reason) rows."""
        if not self.record.exists():
            return []
        rows = [line.split(",") for line in self.record.read_text().splitlines()]
        return [r for r in rows if len(r) >= 4 and r[1] == station and r[2] == action]

    @staticmethod
    def _connects(port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self):
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)

    def logs(self):
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.dir.glob("*.log")))


def running_venue(**options):
    with tempfile.TemporaryDirectory(prefix="playclock-browser-") as directory:
        v = Venue(Path(directory), **options)
        try:
            v.setup()
            yield v
        except Exception:
            print(v.logs())
            raise
        finally:
            v.stop()


@pytest.fixture(scope="module")
def venue():
    yield from running_venue()


@pytest.fixture(scope="module")
def priced_venue():
    """A venue whose hub has the sample prices: the desk sells time, members have balances."""
    yield from running_venue(pricing=True)


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1440,1000",
                 "--force-device-scale-factor=1", "--lang=en-GB"):
        options.add_argument(flag)
    # chromedriver leads a process group of its own; the Chromium it launches (and Chromium's
    # helpers) stay in it, so one killpg takes them all down even if quit() did not.
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"), popen_kw={"process_group": 0})

    def kill_chromedriver_group():
        if service.process is not None:
            try:
                os.killpg(service.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    try:
        driver = webdriver.Chrome(service=service, options=options)
    except BaseException:
        kill_chromedriver_group()
        raise
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        try:
            driver.quit()
        finally:
            kill_chromedriver_group()
