"""The front desk in a real browser against a live hub, broker and simulated agents."""
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.support.ui import Select

from conftest import PASSWORDS, wait_until

COUNTDOWN = re.compile(r"^\d+:\d\d(:\d\d)?$")


def sign_in(browser, venue, account, password=None):
    browser.get(venue.url + "/")
    wait_until(lambda: browser.find_element(By.ID, "login-form").is_displayed(), what="sign-in form")
    browser.find_element(By.ID, "login-account").send_keys(account)
    browser.find_element(By.ID, "login-password").send_keys(password or PASSWORDS[account])
    browser.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()


def tile(browser, station):
    return browser.find_element(By.CSS_SELECTOR, f'.tile[data-station="{station}"]')


def tile_text(browser, station, part):
    try:
        return tile(browser, station).find_element(By.CSS_SELECTOR, f".{part}").text
    except Exception:
        return ""


def action(browser, name, minutes=None):
    selector = f'#actions button[data-action="{name}"]'
    if minutes is not None:
        selector += f'[data-minutes="{minutes}"]'
    browser.find_element(By.CSS_SELECTOR, selector).click()


def toast(browser):
    node = browser.find_element(By.ID, "toast")
    return node.text if node.is_displayed() else ""


def test_a_wrong_password_is_refused_in_plain_words(venue, browser):
    sign_in(browser, venue, "desk", "not-the-password")
    message = wait_until(lambda: browser.find_element(By.ID, "login-error").text, what="sign-in error")
    assert message == "wrong account or password"
    assert not browser.find_element(By.ID, "app").is_displayed()


def test_front_desk_starts_watches_and_stops_a_session(venue, browser):
    sign_in(browser, venue, "boss")
    wait_until(lambda: len(browser.find_elements(By.CSS_SELECTOR, ".tile")) == 12, what="12 station tiles")
    assert browser.find_element(By.ID, "whoami").text == "boss · manager"
    assert wait_until(lambda: browser.find_element(By.ID, "broker").text == "live", what="live pill")
    zones = [z.text for z in browser.find_elements(By.CSS_SELECTOR, ".zone > h2")]
    assert len(zones) >= 2, zones
    wait_until(lambda: tile_text(browser, "PC-01", "status") == "Idle", what="PC-01 idle")
    assert "agent online" in tile_text(browser, "PC-01", "health")

    # Two taps: the tile, then the preset. The simulated agent must be unlocked over MQTT.
    tile(browser, "PC-01").click()
    action(browser, "start", 30)
    wait_until(lambda: venue.arrivals("PC-01", "unlock"), what="the PC-01 agent to receive unlock")
    wait_until(lambda: tile_text(browser, "PC-01", "status") == "In session", what="PC-01 in session")
    first = wait_until(lambda: tile_text(browser, "PC-01", "countdown"), what="a countdown")
    assert COUNTDOWN.match(first), first
    assert first in ("30:00", "29:59", "29:58"), first
    wait_until(lambda: tile_text(browser, "PC-01", "countdown") not in ("", first), timeout=4, what="the countdown to tick")
    assert "done for" in toast(browser)

    # Multi-select: two more stations at once, and a console on its Tasmota plug.
    tile(browser, "PC-01").click()  # deselect
    for station in ("PC-02", "PC-03", "PS5-01"):
        tile(browser, station).click()
    assert browser.find_element(By.ID, "selection-label").text == "3 stations"
    action(browser, "start", 60)
    for station in ("PC-02", "PC-03"):
        wait_until(lambda: venue.arrivals(station, "unlock"), what=f"{station} unlock")
    wait_until(lambda: "plug on" in tile_text(browser, "PS5-01", "health"), timeout=10, what="PS5-01 plug on")
    for station in ("PC-02", "PC-03", "PS5-01"):
        tile(browser, station).click()

    # Extend, pause, resume, transfer and maintenance, each two taps away.
    tile(browser, "PC-02").click()
    action(browser, "extend", 15)
    wait_until(lambda: tile_text(browser, "PC-02", "countdown").startswith("1:14:"), what="PC-02 extended to 1:15")
    tile(browser, "PC-02").click()
    tile(browser, "PC-03").click()
    locks = len(venue.arrivals("PC-03", "lock"))
    action(browser, "pause")
    wait_until(lambda: tile_text(browser, "PC-03", "status") == "Paused", what="PC-03 paused")
    wait_until(lambda: len(venue.arrivals("PC-03", "lock")) > locks, what="PC-03 locked while paused")
    action(browser, "resume")
    wait_until(lambda: tile_text(browser, "PC-03", "status") == "In session", what="PC-03 resumed")
    Select(browser.find_element(By.ID, "transfer-target")).select_by_value("PC-04")
    action(browser, "transfer")
    wait_until(lambda: venue.arrivals("PC-04", "unlock"), what="PC-04 unlocked by the transfer")
    wait_until(lambda: tile_text(browser, "PC-04", "status") == "In session", what="PC-04 in session")
    wait_until(lambda: tile_text(browser, "PC-03", "status") != "In session", what="PC-03 freed")
    browser.find_element(By.ID, "clear-selection").click()
    assert browser.find_element(By.ID, "selection-label").text == "Tap a station"
    tile(browser, "PC-05").click()
    action(browser, "maintenance-on")
    wait_until(lambda: tile_text(browser, "PC-05", "status") == "Maintenance", what="PC-05 in maintenance")
    action(browser, "maintenance-off")
    wait_until(lambda: tile_text(browser, "PC-05", "status") == "Idle", what="PC-05 back to idle")
    tile(browser, "PC-05").click()

    # An agent that drops off mid-session raises an alarm on the strip, cleared when it is back.
    venue.publish("playclock-sim/agents/PC-02/fault", "drop:5")
    alarm = "PC 02: agent offline during a session"
    wait_until(lambda: alarm in browser.find_element(By.ID, "alarms").text, timeout=10, what="the offline alarm")
    wait_until(lambda: alarm not in browser.find_element(By.ID, "alarms").text, timeout=15, what="the alarm to clear")

    # An agent that saw tampering says so in its heartbeats for a minute (playclock-agent's
    # `tamper`): an alarm while it does. The simulated agent is dropped so only ours speaks.
    venue.publish("playclock-sim/agents/PC-07/fault", "drop:6")
    time.sleep(0.5)
    for seq in range(1, 4):
        venue.publish("playclock/stations/PC-07/heartbeat",
                      json.dumps({"seq": 9000 + seq, "agent": "playclock-agent", "locked": True, "tamper": ["grab_lost"]}))
        time.sleep(0.4)
    tamper = "PC 07: agent reports tampering (grab_lost)"
    wait_until(lambda: tamper in browser.find_element(By.ID, "alarms").text, timeout=10, what="the tamper alarm")
    wait_until(lambda: tamper not in browser.find_element(By.ID, "alarms").text, timeout=20,
               what="the alarm to clear when the agent's heartbeats no longer list it")

    # A manager powers an idle console's plug by hand (e.g. for an update), without a session.
    tile(browser, "PS5-02").click()
    action(browser, "plug-on")
    wait_until(lambda: "plug on" in tile_text(browser, "PS5-02", "health") and "held on" in tile_text(browser, "PS5-02", "health"),
               timeout=10, what="PS5-02 plug held on")
    assert tile_text(browser, "PS5-02", "status") == "Idle"
    tile(browser, "PS5-02").click()

    # The events panel names who did it.
    wait_until(lambda: any("session started" in e.text and "by boss" in e.text
                           for e in browser.find_elements(By.CSS_SELECTOR, "#events li")), what="audited start event")

    # A refusal comes back in plain words and changes nothing.
    tile(browser, "PC-01").click()
    action(browser, "start", 30)
    wait_until(lambda: "PC 01: station PC-01 has session" in toast(browser), what="refusal toast")
    assert tile_text(browser, "PC-01", "status") == "In session"

    screenshot_dir = os.environ.get("PLAYCLOCK_SCREENSHOT_DIR")
    if screenshot_dir:
        tile(browser, "PC-01").click()  # leave nothing selected for the picture
        browser.execute_script("document.activeElement.blur(); document.getElementById('toast').hidden = true;")
        ActionChains(browser).move_to_element(browser.find_element(By.ID, "clock")).perform()  # no hover highlight
        time.sleep(1.2)
        browser.save_screenshot(str(Path(screenshot_dir) / "dashboard.png"))
        tile(browser, "PC-01").click()

    # Stop takes a second tap to confirm; then the agent is locked.
    locks_before = len(venue.arrivals("PC-01", "lock"))
    action(browser, "stop")
    assert browser.find_element(By.CSS_SELECTOR, '#actions button[data-action="stop"]').text == "Tap again to stop"
    assert len(venue.arrivals("PC-01", "lock")) == locks_before
    action(browser, "stop")
    wait_until(lambda: len(venue.arrivals("PC-01", "lock")) > locks_before, what="the PC-01 agent to be locked")
    wait_until(lambda: tile_text(browser, "PC-01", "status") != "In session", what="PC-01 out of session")
    assert tile_text(browser, "PC-01", "countdown") == ""
    tile(browser, "PC-01").click()

    tile(browser, "PS5-02").click()
    action(browser, "plug-off")
    wait_until(lambda: "plug off" in tile_text(browser, "PS5-02", "health"), timeout=10, what="PS5-02 plug off")
    assert "held" not in tile_text(browser, "PS5-02", "health")


def test_a_viewer_sees_the_floor_without_controls(venue, browser):
    sign_in(browser, venue, "tv")
    wait_until(lambda: len(browser.find_elements(By.CSS_SELECTOR, ".tile")) == 12, what="tiles")
    assert browser.find_element(By.ID, "readonly-note").is_displayed()
    visible = [b for b in browser.find_elements(By.CSS_SELECTOR, "#actions button[data-action]") if b.is_displayed()]
    assert visible == []


def test_a_cashier_is_offered_session_actions_only(venue, browser):
    sign_in(browser, venue, "desk")
    wait_until(lambda: len(browser.find_elements(By.CSS_SELECTOR, ".tile")) == 12, what="tiles")
    visible = {b.get_attribute("data-verb") for b in browser.find_elements(By.CSS_SELECTOR, "#actions button[data-verb]")
               if b.is_displayed()}
    assert visible == {"session/start", "session/extend", "session/pause", "session/resume", "session/stop"}
    assert not browser.find_element(By.ID, "readonly-note").is_displayed()
    # This hub has no prices (pricing/get answers no_rate_plan): only time without charge is offered.
    time.sleep(0.5)
    assert not browser.find_element(By.ID, "sale").is_displayed()
    assert not browser.find_element(By.ID, "members").is_displayed()
    assert browser.find_element(By.ID, "free-start-title").text.lower() == "start"


def test_the_wall_board_shows_big_countdowns_with_its_token_only(venue, browser):
    browser.get(venue.board_link)
    wait_until(lambda: len(browser.find_elements(By.CSS_SELECTOR, ".tile.big")) == 12, what="board tiles")
    wait_until(lambda: COUNTDOWN.match(tile_text(browser, "PC-02", "countdown")), what="a countdown on the board")
    assert browser.find_elements(By.CSS_SELECTOR, "button") == []
    screenshot_dir = os.environ.get("PLAYCLOCK_SCREENSHOT_DIR")
    if screenshot_dir:
        browser.save_screenshot(str(Path(screenshot_dir) / "board.png"))

    browser.get(venue.url + "/board?token=not-the-token-at-all")
    message = wait_until(lambda: browser.find_element(By.ID, "board-error").text, what="board error")
    assert "no valid token" in message


def test_a_manager_sends_orders_to_a_pc_and_a_cashier_is_not_offered_them(venue, browser):
    watcher = subprocess.Popen(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(venue.broker_port), "-t", "playclock/stations/PC-05/control", "-v"],
        stdout=subprocess.PIPE, text=True, process_group=0)
    try:
        time.sleep(0.3)
        sign_in(browser, venue, "boss")
        wait_until(lambda: len(browser.find_elements(By.CSS_SELECTOR, ".tile")) == 12, what="12 station tiles")
        # A console: the PC orders are offered but not enabled.
        tile(browser, "PS5-01").click()
        shutdown = browser.find_element(By.CSS_SELECTOR, '#actions button[data-action="shutdown"]')
        assert shutdown.is_displayed() and not shutdown.is_enabled()
        tile(browser, "PS5-01").click()

        tile(browser, "PC-05").click()
        assert shutdown.is_enabled()
        shutdown.click()  # the first tap only asks for confirmation
        assert shutdown.text == "Tap again to shut down"
        shutdown.click()
        wait_until(lambda: "done for" in toast(browser), what="the shutdown toast")
        assert shutdown.text == "Shut down"

        action(browser, "message")
        dialog = browser.find_element(By.ID, "message-dialog")
        wait_until(dialog.is_displayed, what="the message dialog")
        text = browser.find_element(By.ID, "message-text")
        text.send_keys("   ")
        browser.find_element(By.ID, "message-send").click()
        assert browser.find_element(By.ID, "message-error").text == "Write the message first."
        text.clear()
        text.send_keys("Your pizza is ready")
        browser.find_element(By.ID, "message-send").click()
        wait_until(lambda: not dialog.is_displayed(), what="the dialog to close")
        wait_until(lambda: "Message sent" in toast(browser), what="the message toast")

        events = lambda: browser.find_element(By.ID, "events").text
        wait_until(lambda: "order sent · by boss · message · “Your pizza is ready”" in events(), what="the order in the events")
        assert "order sent · by boss · shut down" in events()
    finally:
        os.killpg(watcher.pid, signal.SIGKILL)
        out = watcher.communicate(timeout=5)[0]
    orders = [json.loads(line.split(" ", 1)[1]) for line in out.splitlines() if '"command"' in line]
    assert [(o["action"], o.get("text")) for o in orders] == [("shutdown", None), ("message", "Your pizza is ready")]

    browser.find_element(By.ID, "signout").click()
    sign_in(browser, venue, "desk")
    wait_until(lambda: len(browser.find_elements(By.CSS_SELECTOR, ".tile")) == 12, what="tiles")
    assert not browser.find_element(By.ID, "pc-orders").is_displayed()
