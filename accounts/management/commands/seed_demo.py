from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from accounts.models import User
from accounts.services import user_onboard
from credits.models import Wallet
from credits.services import credits_grant

DEMO_CREDITS = 200


class Command(BaseCommand):
    help = (
        "Create the staff user and the demo user of the embedded setup and the showcase examples "
        "(idempotent) and print the users' credentials."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--admin-email", default="admin@mirsam.local")
        parser.add_argument("--admin-password", default="mirsam-admin")
        parser.add_argument("--demo-email", default="demo@mirsam.local")
        parser.add_argument("--demo-password", default="mirsam-demo")

    def handle(self, *args: Any, **o: Any) -> None:
        admin = self._user(o["admin_email"], o["admin_password"], staff=True)
        demo = self._user(o["demo_email"], o["demo_password"], staff=False)
        credits_grant(
            user=demo,
            amount=DEMO_CREDITS,
            idempotency_key=f"seed-demo:{demo.pk}",
            reason="Demo credits",
            reference="seed",
        )
        # Real demo renders owned by the staff user, on the landing page (generation's command:
        # called by name, so accounts imports nothing of generation).
        call_command("seed_showcase", owner=admin.email, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Seeded users:"))
        self.stdout.write(f"  staff: {admin.email} / {o['admin_password']}  (admin at /admin/)")
        self.stdout.write(
            f"  demo:  {demo.email} / {o['demo_password']}  ({Wallet.objects.get(user=demo).available} credits)"
        )

    def _user(self, email: str, password: str, *, staff: bool) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User(
                email=email,
                username=email.split("@")[0],
                is_staff=staff,
                is_superuser=staff,
                preferred_language=settings.LANGUAGE_CODE,
            )
            user.set_password(password)
            user.save()
            user_onboard(user=user)
            from allauth.account.models import EmailAddress

            EmailAddress.objects.get_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
        return user
