"""Test-support modules: the stand-ins and helpers the tests (and the
benchmarks) import. Conftest files hold only fixtures, which call these.

* :mod:`tests.support.env` — the repository root, CI detection, ``need()``
  (skip here, fail under ``CI=true``).
* :mod:`tests.support.accounts` — ``fund()`` a user, ``with_totp()``.
* :mod:`tests.support.browser` — Chromium's path and flags, ``sign_in()``,
  a CSP-safe ``wait_for_function``.
* :mod:`tests.support.uploads` — ``photo()``, an uploaded image file.
* :mod:`tests.support.providers` — adapter-test helpers: ``input_file()``,
  ``raised()``.
* :mod:`tests.support.kie` — the one kie.ai fake: the wire format's builders,
  pytest-httpserver helpers, and a stateful server (in a thread, or
  ``python -m tests.support.kie`` for the benchmarks).
* :mod:`tests.support.stripe` — the Stripe API stand-in.
* :mod:`tests.support.billing` — Mirsam's test Stripe keys and webhook URL.
"""
