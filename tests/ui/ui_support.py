"""Constants shared by the dashboard tests (imported by name: test folders are not packages)."""

from __future__ import annotations

API_KEY = "ui-test-key"
CAMPAIGN = """\
name: hello
description: Say hello
body: "Hi {{ first_name }}, use {{ code }}"
vars: {code: HELLO24}
audience:
  recipients:
    - {phone: "+14155550100", first_name: Ada}
    - {phone: "+14155550101", first_name: Bo}
schedule:
  cron: "0 9 * * MON"
  timezone: Europe/Berlin
"""
