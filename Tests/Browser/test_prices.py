"""Managers edit prices and members in the dashboard, against a live hub with the sample venue's
prices: a plan's rate and rules changed, a package added and one removed, a tier's discount
changed, the hub's refusals shown in its words next to the form, a member moved to a tier; then a
cashier sells at the new prices (and sees a change made meanwhile without reloading), and has no
price editing. The database passes `playclock db check` at the end."""
import http.cookiejar
import json
import subprocess
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from conftest import BIN, PASSWORDS, wait_until
from test_dashboard import sign_in, tile, toast
from test_money import find, pay_with, pick_member, quiet_screenshot, text_of, wait_event


class Staff:
    """A signed-in dashboard account speaking the JSON API directly, as another device would."""

    def __init__(self, venue, account):
        self.venue = venue
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        assert self.post("/api/login", {"account": account, "password": PASSWORDS[account]})[0] == 200

    def post(self, path, body):
        request = urllib.request.Request(self.venue.url + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


def open_prices(browser):
    wait_until(lambda: find(browser, "#prices-open").is_displayed(), what="the Prices button")
    find(browser, "#prices-open").click()
    wait_until(lambda: find(browser, "#prices-dialog").is_displayed(), what="the Prices dialog")
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, '#prices-plans li[data-plan="standard"]'), what="the plans")


def row(browser, kind, item):
    return find(browser, f'#prices-{kind}s li[data-{kind}="{item}"]')


def edit(browser, kind, item):
    row(browser, kind, item).find_element(By.CSS_SELECTOR, "button[data-edit]").click()
    wait_until(lambda: find(browser, "#price-form").is_displayed(), what=f"the {kind} form")


def retype(browser, element_id, text):
    field = browser.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def save_refused(browser, words):
    find(browser, "#price-save").click()
    return wait_until(lambda: text_of(browser, "price-error") == words and text_of(browser, "price-error"),
                      what=f"the refusal “{words}” (shown: “{text_of(browser, 'price-error')}”)")


def save(browser):
    find(browser, "#price-save").click()
    wait_until(lambda: not find(browser, "#price-form").is_displayed(),
               what=f"the form to close (error: “{text_of(browser, 'price-error')}”)")


def options(browser):
    return [o.text for o in Select(browser.find_element(By.ID, "sale-item")).options]


def test_a_cashier_has_no_price_editing(priced_venue, browser):
    sign_in(browser, priced_venue, "desk")
    wait_until(lambda: find(browser, "#sale").is_displayed(), what="the sale form (prices loaded)")
    assert not find(browser, "#prices-open").is_displayed()
    assert browser.find_elements(By.CSS_SELECTOR, "#prices-dialog button[data-edit], #prices-dialog button[data-remove]") == []
    # Not even by hand: the dialog's add buttons are hidden for the cashier's verbs too.
    browser.execute_script("document.getElementById('prices-open').hidden = false; document.getElementById('prices-open').click();")
    wait_until(lambda: find(browser, "#prices-dialog").is_displayed(), what="the dialog opened by hand")
    assert [b.is_displayed() for b in browser.find_elements(By.CSS_SELECTOR, "#plan-add, #package-add, #tier-add")] == [False] * 3
    assert browser.find_elements(By.CSS_SELECTOR, "#prices-dialog button[data-edit], #prices-dialog button[data-remove]") == []
    # The hub refuses the verb for the role anyway.
    status, answer = Staff(priced_venue, "desk").post("/api/request/tier/set", {"tier": {"id": "x", "name": "X", "discount_percent": 50}})
    assert status == 403 and answer["status"] == "error", answer


def test_prices_may_be_zero_and_up_to_the_catalogue_limit(priced_venue, browser):
    sign_in(browser, priced_venue, "boss")
    wait_until(lambda: find(browser, "#prices-open").is_displayed(), what="the Prices button")
    results = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        import("/assets/common.js").then((m) => done([
          m.parseAmount("0", "EUR", {allowZero: true}), m.parseAmount("0,00", "EUR", {allowZero: true}),
          m.parseAmount("100000.00", "EUR", {allowZero: true, max: 10000000}),
          m.parseAmount("100000.01", "EUR", {allowZero: true, max: 10000000}),
          m.parseAmount("9999999999.99", "EUR", {allowZero: true, max: 1000000000000}),
          m.parseAmount("0", "EUR"), m.parseAmount("1000001", "EUR"),
        ]));
    """)
    assert [r.get("amount", r.get("error")) for r in results] == [
        0, 0, 10000000, "That amount is too large.", 999999999999, "The amount must be more than zero.", "That amount is too large."]


def test_a_manager_edits_prices_and_the_desk_sells_at_them(priced_venue, browser):
    venue = priced_venue
    sign_in(browser, venue, "boss")
    open_prices(browser)
    assert text_of(browser, "prices-currency") == "EUR · Europe/Berlin"
    standard = row(browser, "plan", "standard").text
    assert "3.00 EUR/h · step 1 min · minimum 1.00 EUR · zones: all · pay later up to 4 hours" in standard, standard
    assert "Mon, Tue, Wed, Thu, Fri 14:00–17:00 · 2.00 EUR/h" in standard
    assert "Sat, Sun 00:00–00:00 · 3.50 EUR/h" in standard
    assert "8.00 EUR · 3 hours · plans: standard, console" in row(browser, "package", "3h").text
    assert "12.00 EUR · until 08:00 · plans: standard · sold 22:00–04:00" in row(browser, "package", "night").text
    assert "10% off rates and packages" in row(browser, "tier", "gold").text

    # The standard plan: the form holds its fields, amounts as decimals.
    edit(browser, "plan", "standard")
    assert find(browser, "#pf-id").get_attribute("readonly") is not None
    assert [find(browser, f"#{i}").get_attribute("value") for i in ("pf-name", "pf-rate", "pf-step", "pf-minimum", "pf-postpaid")] == \
        ["PC floor", "3.00", "1", "1.00", "240"]
    rules = browser.find_elements(By.CSS_SELECTOR, "#pf-rules .rule-row")
    assert len(rules) == 2
    assert [i.get_attribute("value") for i in rules[0].find_elements(By.CSS_SELECTOR, "input[name=rule-day]:checked")] == \
        ["mon", "tue", "wed", "thu", "fri"]

    # Refusals in the hub's words, the field's path first; nothing changes.
    retype(browser, "pf-step", "0")
    save_refused(browser, "plan.step_s must be a whole number from 1 to 86400")
    retype(browser, "pf-step", "1")
    find(browser, "#pf-name").clear()
    save_refused(browser, "plan.name must be a string of 1-64 characters (leading and trailing spaces are trimmed) without control characters")
    retype(browser, "pf-name", "PC floor")
    find(browser, "#pf-add-rule").click()
    new_rule = browser.find_elements(By.CSS_SELECTOR, "#pf-rules .rule-row")[2]
    new_rule.find_element(By.CSS_SELECTOR, "input[value=fri]").click()
    new_rule.find_element(By.CSS_SELECTOR, ".rule-from").send_keys("25:00")
    new_rule.find_element(By.CSS_SELECTOR, ".rule-to").send_keys("06:00")
    new_rule.find_element(By.CSS_SELECTOR, ".rule-rate").send_keys("2.5")
    save_refused(browser, "plan.rules[2].from must be HH:MM from 00:00 to 23:59")
    # A rate the currency cannot hold is refused before sending (string arithmetic, no rounding).
    retype(browser, "pf-rate", "4.505")
    save_refused(browser, "Rate per hour: EUR has at most 2 decimals.")
    # The change: 4.50 an hour at all times (the happy hour and the new rule go, the weekend rate follows).
    retype(browser, "pf-rate", "4,50")
    new_rule.find_element(By.CSS_SELECTOR, ".rule-remove").click()
    rules[0].find_element(By.CSS_SELECTOR, ".rule-remove").click()
    weekend = browser.find_elements(By.CSS_SELECTOR, "#pf-rules .rule-row")[0]
    field = weekend.find_element(By.CSS_SELECTOR, ".rule-rate")
    field.clear()
    field.send_keys("4.50")
    save(browser)
    assert "Saved rate plan standard (PC floor)" in toast(browser)
    standard = row(browser, "plan", "standard").text
    assert "4.50 EUR/h · step 1 min" in standard and "Sat, Sun 00:00–00:00 · 4.50 EUR/h" in standard and "14:00" not in standard, standard

    # A plan packages still name cannot go: the hub says why, after a confirming second tap.
    remove = row(browser, "plan", "standard").find_element(By.CSS_SELECTOR, "button[data-remove]")
    remove.click()
    assert remove.text == "Tap again to remove"
    remove.click()
    wait_until(lambda: text_of(browser, "prices-error") ==
               "plan standard not removed: package 3h is valid for plan standard: change or remove the package first",
               what="the removal refusal")

    # A plan removed elsewhere while a package form names it: the hub's unknown_plan, in its words.
    boss = Staff(venue, "boss")
    status, answer = boss.post("/api/request/rate/set", {"plan": {"id": "tmp", "name": "Trial", "per_hour": 100, "step_s": 60}})
    assert status == 200, answer
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, '#prices-plans li[data-plan="tmp"]'), what="the plan added elsewhere")
    find(browser, "#package-add").click()
    wait_until(lambda: find(browser, "#price-form").is_displayed(), what="the package form")
    status, answer = boss.post("/api/request/rate/remove", {"plan": "tmp"})
    assert status == 200, answer
    retype(browser, "pf-id", "trial")
    retype(browser, "pf-name", "Trial hour")
    retype(browser, "pf-price", "0")
    retype(browser, "pf-minutes", "60")
    find(browser, '#price-fields input[name=pf-plan][value=tmp]').click()
    save_refused(browser, "package trial names plan tmp, which does not exist")
    find(browser, "#price-cancel").click()
    assert not browser.find_elements(By.CSS_SELECTOR, '#prices-plans li[data-plan="tmp"], #prices-packages li[data-package="trial"]')

    # A new package for the PC floor.
    find(browser, "#package-add").click()
    wait_until(lambda: find(browser, "#price-form").is_displayed(), what="the package form")
    assert find(browser, "#pf-id").get_attribute("readonly") is None
    retype(browser, "pf-id", "2h")
    retype(browser, "pf-name", "2 hours")
    retype(browser, "pf-price", "5.50")
    retype(browser, "pf-minutes", "120")
    find(browser, '#price-fields input[name=pf-plan][value=standard]').click()
    save(browser)
    assert "5.50 EUR · 2 hours · plans: standard" in row(browser, "package", "2h").text

    # Removing one takes two taps too.
    remove = row(browser, "package", "5h").find_element(By.CSS_SELECTOR, "button[data-remove]")
    remove.click()
    remove.click()
    wait_until(lambda: not browser.find_elements(By.CSS_SELECTOR, '#prices-packages li[data-package="5h"]'), what="5h removed")
    assert "Removed package 5h (5 hours)." in toast(browser)

    # Gold members get 20% off from now on.
    edit(browser, "tier", "gold")
    assert find(browser, "#pf-discount").get_attribute("value") == "10"
    retype(browser, "pf-discount", "101")
    save_refused(browser, "tier.discount_percent must be a whole number from 0 to 100")
    retype(browser, "pf-discount", "20")
    save(browser)
    assert "20% off rates and packages" in row(browser, "tier", "gold").text

    quiet_screenshot(browser, "dashboard-prices-list.png")
    edit(browser, "plan", "standard")
    quiet_screenshot(browser, "dashboard-prices.png")
    find(browser, "#price-cancel").click()
    find(browser, "#prices-close").click()
    wait_event(browser, "Prices changed by boss")

    # A member, moved to the gold tier by the manager's Edit.
    browser.find_element(By.ID, "member-add-open").click()
    wait_until(lambda: find(browser, "#member-add-dialog").is_displayed(), what="the add dialog")
    browser.find_element(By.ID, "add-id").send_keys("m-2001")
    browser.find_element(By.ID, "add-name").send_keys("Bob")
    browser.find_element(By.ID, "member-add-send").click()
    wait_until(lambda: text_of(browser, "member-name") == "Bob", what="Bob's card")
    assert text_of(browser, "member-tier") == "none"
    find(browser, "#member-edit").click()
    wait_until(lambda: find(browser, "#member-edit-dialog").is_displayed(), what="the edit dialog")
    assert [o.text for o in Select(find(browser, "#edit-tier")).options] == \
        ["no tier", "Regular (0% off)", "Silver (5% off)", "Gold (20% off)"]
    retype(browser, "edit-name", "   ")
    find(browser, "#member-edit-send").click()
    wait_until(lambda: text_of(browser, "member-edit-error") ==
               '"name" must be a string of 1-64 characters (leading and trailing spaces are trimmed) without control characters',
               what="the hub's refusal of an empty name")
    retype(browser, "edit-name", "Bob Jones")
    retype(browser, "edit-contact", "bob@example.org")
    Select(find(browser, "#edit-tier")).select_by_value("gold")
    find(browser, "#member-edit-send").click()
    wait_until(lambda: text_of(browser, "member-tier") == "Gold (20% off)", what="Bob in the gold tier")
    assert text_of(browser, "member-name") == "Bob Jones"
    assert text_of(browser, "member-contact") == "bob@example.org"
    wait_event(browser, "Member m-2001 changed (Bob Jones, gold) by boss")

    # The cashier: no Prices, the new package offered, quotes at the new rate and discount.
    find(browser, "#signout").click()
    sign_in(browser, venue, "desk")
    wait_until(lambda: find(browser, "#sale").is_displayed(), what="the sale form")
    assert not find(browser, "#prices-open").is_displayed()
    tile(browser, "PC-01").click()
    wait_until(lambda: "2 hours · 5.50 EUR" in options(browser), what="the new package offered")
    assert options(browser) == ["Minutes", "1 hour · 3.00 EUR", "3 hours · 8.00 EUR", "Night pass · 12.00 EUR", "2 hours · 5.50 EUR"]
    retype(browser, "sale-minutes", "60")
    wait_until(lambda: text_of(browser, "sale-quote") == "4.50 EUR for 1 hour", what="the quote at the new rate")
    Select(browser.find_element(By.ID, "sale-item")).select_by_value("package:2h")
    wait_until(lambda: text_of(browser, "sale-quote") == "5.50 EUR for 2 hours", what="the new package's quote")
    pay_with(browser, "account")
    pick_member(browser, "sale-member", "Bob", "m-2001")
    wait_until(lambda: text_of(browser, "sale-quote") == "4.40 EUR for 2 hours (20% member discount)", what="the discounted package")
    Select(browser.find_element(By.ID, "sale-item")).select_by_value("minutes")
    wait_until(lambda: text_of(browser, "sale-quote") == "3.60 EUR for 1 hour (20% member discount)", what="the discounted time")

    # A change made elsewhere reaches the open desk by the pricing.changed event: no reload.
    status, answer = boss.post("/api/request/rate/set", {"plan": {
        "id": "standard", "name": "PC floor", "per_hour": 600, "step_s": 60, "minimum": 100, "postpaid_limit_minutes": 240}})
    assert status == 200, answer
    wait_until(lambda: text_of(browser, "sale-quote") == "4.80 EUR for 1 hour (20% member discount)", what="the quote after a change elsewhere")
    status, answer = boss.post("/api/request/package/set", {"package": {"id": "30m", "name": "30 minutes", "price": 150, "minutes": 30}})
    assert status == 200, answer
    wait_until(lambda: "30 minutes · 1.50 EUR" in options(browser), what="the package added elsewhere")

    # Sold at the new price, cash.
    pay_with(browser, "cash")
    Select(browser.find_element(By.ID, "sale-item")).select_by_value("package:2h")
    confirm = find(browser, "#sale-confirm")
    wait_until(lambda: confirm.is_enabled() and confirm.text == "Start · 5.50 EUR cash", what="the confirm button")
    confirm.click()
    wait_event(browser, "Sale 1: package of 2 hours, 5.50 EUR cash by desk")

    # The cashier sees Bob's card without the manager's Edit.
    search = browser.find_element(By.ID, "member-search")
    search.send_keys("Bob")
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, '#member-results button[data-member="m-2001"]'), what="Bob found").pop().click()
    wait_until(lambda: text_of(browser, "member-tier") == "Gold (20% off)", what="Bob's card for the cashier")
    assert not find(browser, "#member-edit").is_displayed()

    check = subprocess.run([str(BIN / "playclock"), "db", "check", "--database", str(venue.database)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
