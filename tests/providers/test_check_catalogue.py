"""``manage.py check_catalogue`` (issue 16, part 6): CI runs it on the seeded
catalogue (.ci/run); it fails, naming the row, when a price sells below cost
× (1 + MIRSAM_MIN_MARGIN) at the cheapest credit anyone can buy."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command

from billing.models import Plan
from providers import pricing
from providers.models import Offer
from tests.factories import OfferFactory
from tests.support.catalogue import SEEDED_MODELS, install_seeded_catalogue
from tests.support.env import ROOT


@pytest.fixture
def seeded_catalogue(db):
    install_seeded_catalogue()


def check() -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("check_catalogue", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def failing_check() -> tuple[str, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("check_catalogue", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue(), str(raised.value)


def test_the_seeded_catalogue_passes_and_every_price_is_listed(seeded_catalogue):
    out, err = check()
    assert err == ""
    assert "Cheapest credit: $0.033333 (pack studio, 1500 credits for 50.00 USD)" in out
    total = sum(len(pricing.price_table(o)) for o in Offer.objects.filter(is_active=True))
    assert f"Catalogue clean: {total} price(s) keep at least 30 % over cost." in out
    # model, settings (in the options' order, which PostgreSQL's jsonb does not keep), cost USD, price,
    # revenue at the cheapest credit, margin
    rows = [(cells[0], frozenset(cells[1:-5]), *cells[-5:]) for cells in (line.split() for line in out.splitlines())]
    listed = {row[0] for row in rows[3:-1]}
    assert listed == set(SEEDED_MODELS)
    assert ("veo3-fast", {"resolution=720p"}, "0.3000", "12", "0.4000", "33.3", "%") in rows
    assert ("veo3-quality", {"resolution=720p"}, "1.2500", "49", "1.6333", "30.7", "%") in rows
    assert ("veo3-quality", {"extend"}, "1.2500", "49", "1.6333", "30.7", "%") in rows
    assert ("kling-2-6", {"duration=10", "sound=on"}, "1.1000", "43", "1.4333", "30.3", "%") in rows


def test_a_seeded_model_priced_below_its_cost_fails_the_check_and_is_named(seeded_catalogue):
    Offer.objects.filter(slug="veo3-quality").update(price_credits=40)  # 40 × $0.0333 = $1.33 < $1.25 × 1.3
    out, err, message = failing_check()
    assert "BELOW veo3-quality resolution=720p: 40 credits bring $1.3333, below cost $1.2500 × 1.30 = $1.6250" in err
    # The override scales: ceil(40 × 1.275 / 1.25) = 41 for 1080p.
    assert "BELOW veo3-quality resolution=1080p: 41 credits" in err
    assert "BELOW veo3-quality resolution=4k" in err
    assert "BELOW veo3-quality extend" in err
    assert "veo3-fast" not in err
    total = sum(len(pricing.price_table(o)) for o in Offer.objects.filter(is_active=True))
    assert message.startswith(f"4 problem(s) in {total} price(s)")
    assert re.search(r"^veo3-quality +resolution=720p +1\.2500 +40 +1\.3333 +6\.7 %$", out, re.M)  # the table too


def test_the_cheapest_credit_is_the_cheapest_pack_or_plan_on_sale(seeded_catalogue):
    Plan.objects.create(slug="t-cheap", name="Cheap", credits_per_period=1000, price_amount=2000, currency="usd")
    _, err, _ = failing_check()  # $0.02 a credit: Veo Fast's 12 credits bring $0.24 for a $0.30 clip
    assert "BELOW veo3-fast resolution=720p: 12 credits bring $0.2400" in err
    Plan.objects.filter(slug="t-cheap").update(is_active=False)
    Plan.objects.create(slug="t-eur", name="Euro", credits_per_period=1000, price_amount=100, currency="eur")
    out, _ = check()  # a price in another currency is not compared with USD costs
    assert "pack studio" in out


def test_a_model_without_a_cost_fails_the_check(seeded_catalogue):
    OfferFactory(slug="t-nocost", price_credits=5)
    _, err, _ = failing_check()
    assert "NO COST t-nocost -" in err
    OfferFactory(slug="t-badcost", options={"cost": {"usd": "a lot"}})
    _, err, _ = failing_check()
    assert 'UNPRICEABLE t-badcost: cost.usd must be an amount of USD such as "0.30".' in err


def test_ci_checks_the_migrated_catalogue_after_the_static_checks_and_before_the_tests():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    order = [
        lines.index("bash scripts/check.sh"),
        lines.index(".venv/bin/python manage.py migrate --noinput"),
        lines.index(".venv/bin/python manage.py check_catalogue"),
        lines.index("bash scripts/test.sh"),
    ]
    assert order == sorted(order)
    assert "set -euo pipefail" in lines  # a failing check stops CI
