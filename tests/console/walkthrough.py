#!/usr/bin/env python3
"""The console walked through in a real headless Chromium (Selenium, chromedriver).

Usage: walkthrough.py BASE_URL ACCOUNTS_JSON SCREENSHOT_DIR
ACCOUNTS_JSON maps demo usernames to passwords. Every outside host is made unresolvable
(--host-resolver-rules), so the console must load from the binary alone; the browser log is
checked for failed requests at the end. Each step asserts what the page shows and saves a
screenshot. Prints a JSON summary; exits non-zero on the first failed expectation.
"""
import json
import os
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE, ACCOUNTS, SHOTS = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
os.makedirs(SHOTS, exist_ok=True)
for old in os.listdir(SHOTS):
    if old.endswith(".png"):
        os.remove(os.path.join(SHOTS, old))
shots = []


def browser():
    options = webdriver.ChromeOptions()
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1366,768",
        "--lang=zh-CN",
        # no network but this server: any other host fails to resolve
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ]:
        options.add_argument(arg)
    for binary in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.path.exists(binary):
            options.binary_location = binary
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # the browser of a county's staff: in China's time zone, whatever the machine's
    service = webdriver.ChromeService(
        executable_path="/usr/bin/chromedriver", env={**os.environ, "TZ": "Asia/Shanghai"}
    )
    return webdriver.Chrome(options=options, service=service)


d = browser()
wait = WebDriverWait(d, 15)


def shot(name):
    path = os.path.join(SHOTS, f"{len(shots) + 1:02d}-{name}.png")
    d.save_screenshot(path)
    shots.append(path)


def find(css):
    return wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def text_in(css, text):
    try:
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
    except TimeoutException:
        raise SystemExit(f"expected '{text}' in {css}, page shows: {d.find_element(By.TAG_NAME, 'main').text[:500]}")


def login(user):
    d.get(f"{BASE}/console/#/login")
    d.execute_script("sessionStorage.clear()")
    d.get(f"{BASE}/console/#/login")
    find("#u").send_keys(user)
    find("#p").send_keys(ACCOUNTS[user] + Keys.ENTER)
    wait.until(lambda d: "#/login" not in d.current_url)


try:
    # 1. the operator takes the call in, with the keyboard only
    login("operator")
    find("#intake")
    text_in("#routing", "")
    caller = find("#caller")
    caller.send_keys("13812345678" + Keys.TAB)
    cats = Select(find("#category"))
    water = next(o for o in cats.options if "停水" in o.text)
    cats.select_by_value(water.get_attribute("value"))
    find("#title").send_keys("小区停水三天了")
    find("#description").send_keys("幸福小区3号楼从周一起停水，至今没有恢复。")
    find("#cname").send_keys("张三")
    text_in("#routing", "自来水")
    shot("operator-desk")
    find("#take-in").click()
    number = find("#created-number").text
    assert number.startswith("HL"), number
    shot("operator-created")

    # 2. the dispatcher dispatches it from the ticket page (routing's first candidate)
    login("dispatcher")
    d.get(f"{BASE}/console/#/dispatch")
    find(f'tr[data-number="{number}"] a').click()
    find("#do-dispatch").click()
    text_in("#ticket-status", "dispatched")
    shot("dispatcher-ticket")

    # 3. the water company signs and replies
    login("water_staff")
    d.get(f"{BASE}/console/#/queue/to_sign")
    row = find(f'tr[data-number="{number}"]')
    state = row.find_element(By.CSS_SELECTOR, "[data-state]").get_attribute("data-state")
    assert state in ("on_track", "yellow", "red"), state
    shot("department-queue")
    row.find_element(By.CSS_SELECTOR, "a").click()
    find("#do-sign").click()
    text_in("#ticket-status", "in_progress")
    find("#f-reply").send_keys("已抢修管道，恢复供水。")
    find("#do-reply").click()
    text_in("#ticket-status", "replied")
    text_in("#ticket-reply", "已抢修管道")
    shot("department-ticket")

    # 4. the operator records a satisfied callback
    login("operator")
    d.get(f"{BASE}/console/#/callbacks")
    form = find(f'tr[data-number="{number}"] form')
    Select(form.find_element(By.NAME, "outcome")).select_by_value("reached")
    Select(form.find_element(By.NAME, "satisfaction")).select_by_value("satisfied")
    Select(form.find_element(By.NAME, "resolved")).select_by_value("true")
    shot("operator-callbacks")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, f'tr[data-number="{number}"]'))

    # 5. the supervisor sees it counted
    login("supervisor")
    find("#kpis")
    total = int(find("#kpi-total").text)
    assert total >= 1, total
    text_in("#kpi-satisfaction", "100.0%")
    shot("supervisor-dashboard")
    find("#export").click()
    find("#export-link")
    shot("supervisor-export")

    # nothing was fetched from outside, nothing failed to load
    failures = [
        e["message"]
        for e in d.get_log("browser")
        if "Failed to load" in e["message"] or "ERR_NAME_NOT_RESOLVED" in e["message"]
    ]
    assert not failures, failures
    print(json.dumps({"number": number, "total": total, "screenshots": shots}))
except Exception as e:  # noqa: BLE001 - report any failure with a screenshot
    shot("failure")
    print(f"walkthrough failed: {e!r} at {d.current_url}", file=sys.stderr)
    sys.exit(1)
finally:
    d.quit()
