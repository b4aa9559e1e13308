"""End to end in a real browser (Debian's chromium driven by Playwright): log in, add a patient, record six
sessions and PHQ-9s (one with item 9 answered), see the alert, open the forecast, print the report.

Screenshots of the main pages go to ``$KETASIM_CLINIC_SCREENSHOTS`` when set (``docs/clinic/`` holds the
committed ones), else to the test's temporary folder.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import tempfile
import time
from pathlib import Path

import pytest
from clinic_helpers import CHROMIUM_ENV, PASSWORD, USERS, free_port, make_clinic, need_service, start_server

from ketasim.clinic.demo import phq9_items
from ketasim.clinic.settings import sqlite_url

pytestmark = pytest.mark.browser
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SESSIONS = (0, 2, 4, 7, 9, 11)  # days after the first visit: six infusions over two weeks
SCORES = ((0, 19), (1, 12), (4, 9), (8, 7), (12, 5), (19, 6))  # (day, PHQ-9 total)


def test_clinician_journey(tmp_path):
    chromium = need_service(CHROMIUM_ENV, "chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    shots = Path(os.environ.get("KETASIM_CLINIC_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    url = sqlite_url(tmp_path / "clinic.db")
    make_clinic(url).db.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(url, port, tmp_path / "server.log", worker=True)
    start = dt.date.today() - dt.timedelta(days=24)
    try:
        with sync_api.sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(tempfile.mkdtemp(dir=tmp_path), executable_path=chromium,
                                                       args=FLAGS, headless=True,
                                                       viewport={"width": 1280, "height": 900})
            page = ctx.new_page()
            page.goto(f"{base}/")
            assert page.url.startswith(f"{base}/login")
            page.screenshot(path=str(shots / "login.png"))
            page.fill("input[name=email]", USERS["clinician"])
            page.fill("input[name=password]", PASSWORD)
            page.click("main button[type=submit]")
            page.wait_for_url(f"{base}/")
            page.click("text=Add patient")
            page.fill("input[name=external_id]", "E2E-001")
            page.fill("input[name=birth_year]", "1979")
            page.select_option("select[name=sex]", "female")
            page.fill("input[name=weight_kg]", "68")
            page.click("main button[type=submit]")
            page.wait_for_url(f"{base}/patients/*")
            patient_url = page.url
            for k, d in enumerate(SESSIONS):
                page.click("text=Record session")
                page.fill("input[name=date]", f"{start + dt.timedelta(days=d)}T10:00")
                page.fill("input[name=dose_mg_per_kg]", "0.5")
                assert "34.0 mg for 68 kg" in page.inner_text("[data-dose-note]")  # the form's little helper
                page.fill("input[name=infusion_minutes]", "40")
                page.fill("input[name=bp_before_systolic]", str(122 + k))
                page.fill("input[name=bp_before_diastolic]", "80")
                page.fill("input[name=bp_40min_systolic]", "138")
                page.fill("input[name=bp_40min_diastolic]", "86")
                page.fill("input[name=monitoring_minutes]", "120")
                page.select_option("select[name=discharge_ready]", "yes")
                page.click("main button[type=submit]")
                page.wait_for_url(f"{patient_url}#sessions")
            for k, (d, total) in enumerate(SCORES):
                page.click("text=Record PHQ-9")
                page.fill("input[name=date]", f"{start + dt.timedelta(days=d)}T09:00")
                items = phq9_items(total, item9=1 if k == len(SCORES) - 1 else 0)
                for n, v in enumerate(items, start=1):
                    page.check(f"input[name=item_{n}][value='{v}']")
                assert page.inner_text("[data-total]") == str(total)
                if k == len(SCORES) - 1:
                    page.screenshot(path=str(shots / "phq9-form.png"), full_page=True)
                page.click("main button[type=submit]")
                page.wait_for_url(f"{patient_url}#scores")
            # The item-9 answer raises the alert at once, on every page.
            banner = page.inner_text(".banner.urgent")
            assert "1 open PHQ-9 item 9 alert" in banner
            page.goto(f"{base}/")
            assert "E2E-001" in page.inner_text("table.list") and page.locator(".banner.urgent").count() == 1
            page.screenshot(path=str(shots / "overview.png"))
            page.click(".banner.urgent a")
            assert "thoughts of being better off dead" in page.inner_text("ul.alerts")
            page.screenshot(path=str(shots / "alerts.png"))
            # The forecast is computed by the worker, never on a page view: wait for it.
            deadline = time.monotonic() + 180
            page.goto(patient_url)
            while "Forecast pending" in page.content() or "update is pending" in page.content():
                assert time.monotonic() < deadline, "the forecast worker did not deliver within 180 s"
                time.sleep(2)
                page.reload()
            assert "PHQ-9 now about" in page.inner_text(".headline") or "relapse" in page.inner_text(".headline")
            page.screenshot(path=str(shots / "patient.png"), full_page=True)
            page.click("text=Forecast details")
            assert "In numbers (PHQ-9)" in page.content() and page.locator("svg.chart polygon").count() >= 2
            page.screenshot(path=str(shots / "forecast.png"), full_page=True)
            # Acknowledge the alert as the named clinician.
            page.goto(f"{base}/alerts")
            item9 = page.locator("li.kind-item9")
            item9.locator("input[name=note]").fill("called the patient: safe, appointment tomorrow")
            with page.expect_navigation():
                item9.get_by_role("button", name="Acknowledge").click()
            assert page.locator("li.kind-item9").count() == 0 and page.locator(".banner.urgent").count() == 0
            page.goto(f"{base}/alerts?show=all")
            assert "by Clinician" in page.inner_text("ul.alerts")
            # Print the report (Chromium's print to PDF) and fetch the PDF version.
            page.goto(patient_url)
            page.click("text=Patient report")
            assert "Why the benefit of ketamine fades" in page.content()
            page.screenshot(path=str(shots / "report.png"), full_page=True)
            page.emulate_media(media="print")
            printed = page.pdf(path=str(tmp_path / "printed-report.pdf"), format="A4")
            assert printed.startswith(b"%PDF") and len(printed) > 5000
            page.emulate_media(media="screen")
            with page.expect_download() as dl:
                page.evaluate("""() => { const a = document.createElement('a'); a.href = document.querySelector(
                    'a[href$="report.pdf"]').href; a.download = 'report.pdf'; document.body.appendChild(a);
                    a.click(); }""")
            pdf = Path(dl.value.path()).read_bytes()
            assert pdf.startswith(b"%PDF")
            ctx.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
