"""Money at the front desk in a real browser against a live hub with the sample venue's prices:
a package sold for cash, a member added, topped up and playing on their balance, a sale paid
from the account, a pay-later session, and a manager's void and refund. The database passes
`playclock db check` at the end."""
import os
import subprocess
import time
from pathlib import Path

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from conftest import BIN, wait_until
from test_dashboard import sign_in, tile, tile_text, toast


def find(browser, selector):
    return browser.find_element(By.CSS_SELECTOR, selector)


def text_of(browser, element_id):
    return browser.find_element(By.ID, element_id).text


def events(browser):
    return [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#events li")]


def wait_event(browser, words, what=None):
    return wait_until(lambda: next((e for e in events(browser) if words in e), None), what=what or f"event “{words}”")


def pay_with(browser, method):
    browser.find_element(By.XPATH, f'//div[@id="sale-methods"]//input[@value="{method}"]/..').click()


def pick_member(browser, input_id, typed, member):
    field = browser.find_element(By.ID, input_id)
    field.clear()
    field.send_keys(typed)
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, f'#{input_id} ~ .results button[data-member="{member}"]'),
               what=f"{member} in the search results").pop().click()


def quiet_screenshot(browser, name):
    """A picture without focus rings, hover highlights or toasts, if PLAYCLOCK_SCREENSHOT_DIR asks for one."""
    directory = os.environ.get("PLAYCLOCK_SCREENSHOT_DIR")
    if not directory:
        return
    browser.execute_script("document.activeElement.blur(); document.getElementById('toast').hidden = true; window.scrollTo(0, 0);")
    ActionChains(browser).move_to_element(browser.find_element(By.ID, "clock")).perform()
    time.sleep(1.2)
    browser.save_screenshot(str(Path(directory) / name))


def test_amounts_are_converted_with_string_arithmetic(priced_venue, browser):
    sign_in(browser, priced_venue, "desk")
    wait_until(lambda: len(browser.find_elements(By.CSS_SELECTOR, ".tile")) == 12, what="tiles")
    results = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        import("/assets/common.js").then((m) => done({
          parsed: ["20", "12.5", "19.99", "0,05", ".5", "0.1", "1000000", "12.345", "-3", "1e3", "", "0", "1000001"]
            .map((t) => m.parseAmount(t, "EUR")),
          jpy: [m.parseAmount("1250", "JPY"), m.parseAmount("12.5", "JPY")],
          bhd: m.parseAmount("1.25", "BHD"),
          text: [m.formatMoney(1250, "EUR"), m.formatMoney(5, "EUR"), m.formatMoney(-5, "EUR"), m.formatMoney(1250, "JPY"),
                 m.formatMoney(1250, "BHD"), m.formatMoney(0, "KWD")],
          ids: [m.newTransactionID(), m.newTransactionID()],
        }));
    """)
    amounts = [r.get("amount") for r in results["parsed"]]
    assert amounts == [2000, 1250, 1999, 5, 50, 10, 100000000, None, None, None, None, None, None], results["parsed"]
    assert results["parsed"][7]["error"] == "EUR has at most 2 decimals."
    assert results["parsed"][12]["error"] == "That amount is too large."
    assert [r.get("amount") for r in results["jpy"]] == [1250, None]
    assert results["bhd"] == {"amount": 1250}
    assert results["text"] == ["12.50 EUR", "0.05 EUR", "-0.05 EUR", "1250 JPY", "1.250 BHD", "0.000 KWD"]
    first, second = results["ids"]
    assert first != second and len(first) == 36 and first[14] == "4", results["ids"]


def test_the_desk_sells_time_and_members_play_on_their_balance(priced_venue, browser):
    venue = priced_venue
    sign_in(browser, venue, "desk")
    wait_until(lambda: len(browser.find_elements(By.CSS_SELECTOR, ".tile")) == 12, what="tiles")
    wait_until(lambda: find(browser, "#sale").is_displayed(), what="the sale form (prices loaded)")
    assert text_of(browser, "free-start-title") == "START · NO CHARGE"
    assert find(browser, "#members").is_displayed()

    # A package for cash on PC-01: the price comes live from price/quote before confirming.
    tile(browser, "PC-01").click()
    assert text_of(browser, "sale-title") == "SELL TIME"
    methods = [l.text for l in browser.find_elements(By.CSS_SELECTOR, "#sale-methods label") if l.is_displayed()]
    assert methods == ["Cash", "Card", "Member's account", "Member's balance", "Pay later"]
    Select(browser.find_element(By.ID, "sale-item")).select_by_value("package:3h")
    wait_until(lambda: text_of(browser, "sale-quote") == "8.00 EUR for 3 hours", what="the package's quote")
    confirm = browser.find_element(By.ID, "sale-confirm")
    wait_until(lambda: confirm.is_enabled() and confirm.text == "Start · 8.00 EUR cash", what="the confirm button")
    # A double click sells once: the button is disabled while the request is out, and the
    # request carries a transaction id the hub applies once.
    browser.execute_script("arguments[0].click(); arguments[0].click();", confirm)
    wait_until(lambda: venue.arrivals("PC-01", "unlock"), what="the PC-01 agent to be unlocked")
    wait_until(lambda: tile_text(browser, "PC-01", "status") == "In session", what="PC-01 in session")
    assert tile_text(browser, "PC-01", "billing") == "paid at the desk"
    wait_event(browser, "Sale 1: package of 3 hours, 8.00 EUR cash by desk")
    assert "PC 01: sale 1, 8.00 EUR cash." in toast(browser)
    time.sleep(0.5)
    assert len(browser.find_elements(By.CSS_SELECTOR, '#events li[data-type="sale.completed"]')) == 1
    assert len(venue.arrivals("PC-01", "unlock")) == 1
    # With a session on it, the station sells more time (no balance or pay-later starts).
    wait_until(lambda: text_of(browser, "sale-title") == "SELL MORE TIME", what="the extend form")
    methods = [l.text for l in browser.find_elements(By.CSS_SELECTOR, "#sale-methods label") if l.is_displayed()]
    assert methods == ["Cash", "Card", "Member's account"]
    tile(browser, "PC-01").click()

    # The screenshot: the sold session on its tile, the sale in the events, a quote for the next.
    tile(browser, "PC-05").click()
    pay_with(browser, "card")
    Select(browser.find_element(By.ID, "sale-item")).select_by_value("package:1h")
    wait_until(lambda: confirm.text == "Start · 3.00 EUR card", what="a card quote")
    quiet_screenshot(browser, "dashboard-sale.png")
    pay_with(browser, "cash")
    tile(browser, "PC-05").click()

    # A new member, topped up with amounts typed as decimals.
    browser.find_element(By.ID, "member-add-open").click()
    wait_until(lambda: browser.find_element(By.ID, "member-add-dialog").is_displayed(), what="the add dialog")
    browser.find_element(By.ID, "add-id").send_keys("m-1001")
    browser.find_element(By.ID, "add-name").send_keys("Ann")
    browser.find_element(By.ID, "add-pin").send_keys("4821")
    browser.find_element(By.ID, "member-add-send").click()
    wait_until(lambda: text_of(browser, "member-name") == "Ann", what="Ann's card")
    assert text_of(browser, "member-balance") == "0.00 EUR"
    wait_event(browser, "Member m-1001 added (Ann) by desk")
    # A cashier gets no refund, void or disable buttons.
    assert not browser.find_element(By.ID, "member-disable").is_displayed()

    amount = browser.find_element(By.ID, "topup-amount")
    amount.send_keys("12.345")
    browser.find_element(By.ID, "topup-send").click()
    wait_until(lambda: text_of(browser, "member-error") == "EUR has at most 2 decimals.", what="the decimals error")
    amount.clear()
    amount.send_keys("12.5")
    browser.find_element(By.ID, "topup-send").click()
    wait_until(lambda: text_of(browser, "member-balance") == "12.50 EUR", what="12.50 EUR on the card")
    wait_event(browser, "Top-up m-1001 +12.50 EUR cash by desk · balance 12.50 EUR")
    amount.send_keys("7,50")
    Select(browser.find_element(By.ID, "topup-method")).select_by_value("card")
    browser.find_element(By.ID, "topup-send").click()
    wait_until(lambda: text_of(browser, "member-balance") == "20.00 EUR", what="20.00 EUR on the card")
    wait_event(browser, "Top-up m-1001 +7.50 EUR card by desk · balance 20.00 EUR")
    assert browser.find_elements(By.CSS_SELECTOR, "#member-history button") == []

    # A session on Ann's balance on PC-02: the tile shows her name and balance.
    tile(browser, "PC-02").click()
    pay_with(browser, "balance")
    pick_member(browser, "sale-member", "m-10", "m-1001")
    wait_until(lambda: confirm.text == "Start on Ann's balance" and confirm.is_enabled(), what="the balance start")
    assert text_of(browser, "sale-quote") == "Runs on Ann's balance (20.00 EUR) and is charged for the time used."
    confirm.click()
    wait_until(lambda: venue.arrivals("PC-02", "unlock"), what="the PC-02 agent to be unlocked")
    wait_until(lambda: tile_text(browser, "PC-02", "billing") == "Ann (m-1001) · 20.00 EUR", what="Ann on the PC-02 tile")
    wait_until(lambda: text_of(browser, "sale-quote") == "PC 02 runs on Ann's balance: top up to extend.", what="top up to extend")
    assert browser.find_element(By.ID, "sale-open-member").is_displayed()
    assert not confirm.is_enabled()
    wait_until(lambda: text_of(browser, "member-session") == "playing on PC 02", what="the session on Ann's card")
    tile(browser, "PC-02").click()

    # One hour paid from Ann's account on PC-04 (a fixed sale, not a balance session).
    tile(browser, "PC-04").click()
    Select(browser.find_element(By.ID, "sale-item")).select_by_value("package:1h")
    pay_with(browser, "account")
    pick_member(browser, "sale-member", "Ann", "m-1001")
    wait_until(lambda: confirm.text == "Start · 3.00 EUR from Ann's account" and confirm.is_enabled(), what="the account quote")
    confirm.click()
    wait_until(lambda: tile_text(browser, "PC-04", "status") == "In session", what="PC-04 in session")
    wait_event(browser, "package of 1 hour, 3.00 EUR from m-1001's account by desk")
    wait_until(lambda: text_of(browser, "member-balance") == "17.00 EUR", what="17.00 EUR after paying from the account")
    wait_until(lambda: tile_text(browser, "PC-02", "billing") == "Ann (m-1001) · 17.00 EUR", what="the PC-02 tile's new balance")
    tile(browser, "PC-04").click()

    # More time sold on PC-01's desk-paid session: an extension with its own sale.
    tile(browser, "PC-01").click()
    wait_until(lambda: text_of(browser, "sale-title") == "SELL MORE TIME", what="the extend form")
    pay_with(browser, "card")
    Select(browser.find_element(By.ID, "sale-item")).select_by_value("package:1h")
    wait_until(lambda: confirm.text == "Extend · 3.00 EUR card" and confirm.is_enabled(), what="the extension's quote")
    assert confirm.get_attribute("data-verb") == "session/extend"
    confirm.click()
    wait_event(browser, "Sale 5: package of 1 hour, 3.00 EUR card by desk")
    wait_until(lambda: tile_text(browser, "PC-01", "countdown").startswith("3:5"), what="PC-01 extended by an hour")
    tile(browser, "PC-01").click()

    # A refusal in the hub's words: more than the balance can pay from the account.
    tile(browser, "PC-06").click()
    Select(browser.find_element(By.ID, "sale-item")).select_by_value("minutes")
    minutes = browser.find_element(By.ID, "sale-minutes")
    minutes.clear()
    minutes.send_keys("1200")
    pay_with(browser, "account")
    pick_member(browser, "sale-member", "m-1001", "m-1001")
    wait_until(lambda: confirm.is_enabled() and "from Ann's account" in confirm.text, what="the long quote")
    confirm.click()
    wait_until(lambda: "PC 06: member m-1001 has" in toast(browser) and "available; this costs" in toast(browser), what="the refusal")
    assert tile_text(browser, "PC-06", "status") == "Idle"
    pay_with(browser, "cash")
    tile(browser, "PC-06").click()

    # As the manager: stop Ann's session (charged), start and stop a pay-later one, void a
    # top-up, refund part of the charge, and see a refusal in plain words.
    browser.find_element(By.ID, "signout").click()
    sign_in(browser, venue, "boss")
    wait_until(lambda: find(browser, "#sale").is_displayed(), what="the sale form for the manager")
    confirm = browser.find_element(By.ID, "sale-confirm")
    tile(browser, "PC-02").click()
    for _ in range(2):
        find(browser, '#actions button[data-action="stop"]').click()
    wait_event(browser, "Charged m-1001 1.00 EUR for PC-02 · balance 16.00 EUR")
    wait_until(lambda: tile_text(browser, "PC-02", "billing") == "", what="PC-02 free")
    tile(browser, "PC-02").click()

    tile(browser, "PC-03").click()
    pay_with(browser, "later")
    wait_until(lambda: confirm.text == "Start · pay later" and confirm.is_enabled(), what="the pay-later start")
    assert text_of(browser, "sale-quote") == "Charged at the end for the time used, up to 4 hours."
    confirm.click()
    wait_until(lambda: tile_text(browser, "PC-03", "billing") == "pay later", what="pay later on the tile")
    for _ in range(2):
        find(browser, '#actions button[data-action="stop"]').click()
    wait_event(browser, "Charged 1.00 EUR for PC-03, pay later")
    tile(browser, "PC-03").click()

    search = browser.find_element(By.ID, "member-search")
    search.send_keys("Ann")
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, '#member-results button[data-member="m-1001"]'), what="Ann found").pop().click()
    wait_until(lambda: text_of(browser, "member-balance") == "16.00 EUR", what="Ann's card for the manager")
    history = lambda: [li.get_attribute("data-kind") for li in browser.find_elements(By.CSS_SELECTOR, "#member-history li")]
    assert history() == ["session_charge", "package", "topup", "topup"], history()
    charge = find(browser, '#member-history li[data-kind="session_charge"]').get_attribute("data-sale")

    find(browser, '#member-history button[data-void="3"]').click()
    wait_until(lambda: browser.find_element(By.ID, "sale-dialog").is_displayed(), what="the void dialog")
    browser.find_element(By.ID, "sale-dialog-send").click()
    assert text_of(browser, "sale-dialog-error") == "Give the reason (it is kept with the sale)."
    browser.find_element(By.ID, "sale-reason").send_keys("typed twice")
    browser.find_element(By.ID, "sale-dialog-send").click()
    wait_until(lambda: text_of(browser, "member-balance") == "8.50 EUR", what="the void taken off the balance")
    wait_event(browser, "Void of sale 3: 7.50 EUR card by boss · “typed twice”")
    assert browser.find_elements(By.CSS_SELECTOR, '#member-history button[data-void="3"]') == []

    # More than is left: the hub's words in the dialog, nothing changes.
    find(browser, '#member-history button[data-refund="2"]').click()
    wait_until(lambda: browser.find_element(By.ID, "sale-dialog").is_displayed(), what="the refund dialog")
    field = browser.find_element(By.ID, "sale-amount")
    assert field.get_attribute("value") == "12.50"
    field.clear()
    field.send_keys("50")
    browser.find_element(By.ID, "sale-reason").send_keys("asked for it")
    browser.find_element(By.ID, "sale-dialog-send").click()
    wait_until(lambda: text_of(browser, "sale-dialog-error") == "sale 2 has 12.50 EUR left to refund; asked for 50.00 EUR",
               what="the refund refusal")
    browser.find_element(By.ID, "sale-dialog-cancel").click()

    find(browser, f'#member-history button[data-refund="{charge}"]').click()
    wait_until(lambda: browser.find_element(By.ID, "sale-dialog").is_displayed(), what="the refund dialog")
    field = browser.find_element(By.ID, "sale-amount")
    assert field.get_attribute("value") == "1.00"
    field.clear()
    field.send_keys("0.50")
    browser.find_element(By.ID, "sale-reason").send_keys("PC froze")
    browser.find_element(By.ID, "sale-dialog-send").click()
    wait_until(lambda: text_of(browser, "member-balance") == "9.00 EUR", what="the refund on the balance")
    wait_event(browser, f"Refund of sale {charge}: 0.50 EUR back to the balance by boss · “PC froze”")

    quiet_screenshot(browser, "dashboard-members.png")

    # Ann signs in at PC-06's lock screen (as its agent would): her name and balance on the
    # tile, the sign-in and the charge at sign-out in the events.
    venue.publish("playclock/stations/PC-06/signin", '{"action":"sign_in","station":"PC-06","member":"m-1001","pin":"4821","request":"t-1"}')
    wait_event(browser, "m-1001 signed in at the station")
    wait_until(lambda: tile_text(browser, "PC-06", "billing") == "Ann (m-1001) · 9.00 EUR", what="Ann on the PC-06 tile")
    time.sleep(1.1)  # the hub takes one attempt per station per second
    venue.publish("playclock/stations/PC-06/signin", '{"action":"sign_out","station":"PC-06","request":"t-2"}')
    wait_event(browser, "m-1001 signed out at the station")
    wait_event(browser, "Charged m-1001 1.00 EUR for PC-06 · balance 8.00 EUR")
    wait_until(lambda: text_of(browser, "member-balance") == "8.00 EUR", what="the card after the sign-out")

    # Disable and enable again.
    browser.find_element(By.ID, "member-disable").click()
    wait_until(lambda: "disabled" in text_of(browser, "member-flags"), what="Ann disabled")
    wait_event(browser, "Member m-1001 disabled by boss")
    browser.find_element(By.ID, "member-disable").click()
    wait_until(lambda: "disabled" not in text_of(browser, "member-flags"), what="Ann enabled")

    check = subprocess.run([str(BIN / "playclock"), "db", "check", "--database", str(venue.database)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_viewer_is_offered_no_money(priced_venue, browser):
    sign_in(browser, priced_venue, "tv")
    wait_until(lambda: len(browser.find_elements(By.CSS_SELECTOR, ".tile")) == 12, what="tiles")
    time.sleep(0.5)  # the prices have been asked for (a viewer may read them)
    assert not find(browser, "#sale").is_displayed()
    assert not find(browser, "#members").is_displayed()
    assert browser.find_element(By.ID, "readonly-note").is_displayed()
