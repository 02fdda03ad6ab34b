"""``manage.py totp ACTION USERNAME``: a central admin's second factor (TOTP).

- ``enrol USERNAME`` prints the otpauth:// URI (and a QR code) of a new device,
  which counts once confirmed;
- ``confirm USERNAME CODE`` confirms it with a code from the authenticator app;
  from then on the admin site and the central API's ``login`` ask for a code;
- ``remove USERNAME`` deletes the admin's devices (a lost phone);
- ``unlock USERNAME`` lifts a login lock of that username (issue 10 finding 8).
"""

from __future__ import annotations

import io

import qrcode
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from central import accounts
from central.errors import ServiceError


class Command(BaseCommand):
    help = "Enrol, confirm or remove a central admin's TOTP device; unlock a login."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["enrol", "confirm", "remove", "unlock"])
        parser.add_argument("username")
        parser.add_argument("code", nargs="?", default="", help="with confirm: the app's code")
        parser.add_argument("--no-qr", action="store_true", help="print the URI only")

    def handle(self, *args, action, username, code, no_qr, **options):
        try:
            if action == "enrol":
                device = accounts.enrol_totp(username)
                self.stdout.write(
                    _("otpauth URI: %(config_url)s") % {"config_url": device.config_url}
                )
                if not no_qr:
                    self.stdout.write(_qr_text(device.config_url))
                self.stdout.write(
                    _("then confirm it: manage.py totp confirm %(username)s <code from the app>")
                    % {"username": username}
                )
            elif action == "confirm":
                if not code:
                    raise CommandError(_("give the code the authenticator app shows"))
                accounts.confirm_totp(username, code)
                self.stdout.write(
                    self.style.SUCCESS(
                        _("%(username)s: TOTP device confirmed") % {"username": username}
                    )
                )
            elif action == "remove":
                count = accounts.remove_totp(username)
                self.stdout.write(
                    self.style.SUCCESS(
                        _("%(username)s: %(count)s device(s) removed")
                        % {"username": username, "count": count}
                    )
                )
            else:
                locked = accounts.unlock_admin(username)
                self.stdout.write(
                    self.style.SUCCESS(f"{username}: {'unlocked' if locked else 'was not locked'}")
                )
        except ServiceError as error:
            raise CommandError(str(error)) from None


def _qr_text(data: str) -> str:
    code = qrcode.QRCode(border=1)
    code.add_data(data)
    out = io.StringIO()
    code.print_ascii(out=out)
    return out.getvalue()
