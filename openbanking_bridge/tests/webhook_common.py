# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
from datetime import timedelta

from odoo.tests import HttpCase, new_test_user
from odoo.tools import SQL

from odoo.addons.openbanking_bridge import const
from odoo.addons.openbanking_bridge.bridge import compute_signature
from odoo.addons.openbanking_bridge.models.openbanking_web_service import (
    WEBHOOK_ROUTE,
)

from bridge_emulator.banks import french_iban

from .common import MANAGER_GROUP, USER_GROUP, BridgeEmulatorMixin

# Bridge's bank (v2 bank_id, v3 provider_id) of the emulator's items
EMULATOR_BANK_ID = 574


def make_iban(serial):
    """A checksum-valid French IBAN, numbered ``serial``."""
    return french_iban("30004", "00002", f"{serial:011d}")


class WebhookCase(BridgeEmulatorMixin, HttpCase):
    """An Open Banking bank with its single active web service, speaking to a
    Bridge emulator that sends its webhooks to this Odoo's route; a signatory
    registered at the emulator; bank accounts of the company."""

    secret = "whsec-test-4f9c1a"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_bridge_emulator(
            webhook_url=f"{cls.base_url()}{WEBHOOK_ROUTE}", webhook_secret=cls.secret
        )
        cls.company = cls.env.company
        # events are processed in the company's language: English here,
        # whatever the database's languages
        cls.env["res.lang"]._activate_lang("en_US")
        cls.company.partner_id.lang = "en_US"
        cls.user = new_test_user(
            cls.env,
            login="ob_wh_user",
            name="Wanda Webhook",
            email="wanda.webhook@example.com",
            groups=USER_GROUP,
        )
        cls.manager = new_test_user(
            cls.env,
            login="ob_wh_manager",
            name="Mona Manager",
            email="mona.manager@example.com",
            groups=MANAGER_GROUP,
        )
        cls.env["openbanking.web.service"].search([]).action_archive()
        cls.bank = cls.env["res.bank"].create(
            {"name": "Banque Webhook", "openbanking_type": "open_banking"}
        )
        cls.service = cls.env["openbanking.web.service"].create(
            {
                "name": "Bridge Webhook",
                "bank_id": cls.bank.id,
                "api_url": cls.emu.url,
                "client_id": cls.emu.client_id,
                "client_secret": cls.emu.client_secret,
                "webhook_secret": cls.secret,
            }
        )
        cls.signatory = cls.env["openbanking.signatory"].create(
            {"bank_id": cls.bank.id, "user_id": cls.user.id}
        )
        bridge_user = cls.emu.add_user(
            external_user_id=cls.signatory._openbanking_external_user_id()
        )
        cls.user_uuid = bridge_user["uuid"]
        cls.signatory.write({"bridge_user_uuid": cls.user_uuid, "state": "registered"})
        cls.iban_1, cls.iban_2, cls.iban_unknown = (make_iban(n) for n in (1, 2, 3))
        cls.account_1, cls.account_2 = cls.env["res.partner.bank"].create(
            [
                {
                    "acc_number": iban,
                    "partner_id": cls.company.partner_id.id,
                    "bank_id": cls.bank.id,
                }
                for iban in (cls.iban_1, cls.iban_2)
            ]
        )
        cls.Event = cls.env["openbanking.webhook.event"]

    def setUp(self):
        super().setUp()
        self.emu.clear_faults()
        self.emu.reset_counters()
        # a fresh window for Bridge's per-user rate limits, past the times
        # that tests moved with freezegun
        self.emu.advance_clock(timedelta(days=1))
        self.emu.webhooks.clear()

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def post(self, payload, *, secret=None, signature=None, code=None, body=None):
        """POST a webhook to the route, signed with ``secret`` (the service's by
        default) unless ``signature`` is given ("" sends none)."""
        if body is None:
            body = json.dumps(payload).encode()
        if signature is None:
            signature = f"v1={compute_signature(body, secret or self.secret)}"
        headers = {"Content-Type": "application/json"}
        if signature:
            headers[const.WEBHOOK_SIGNATURE_HEADER] = signature
        path = f"{WEBHOOK_ROUTE}/{code}" if code else WEBHOOK_ROUTE
        return self.url_open(path, data=body, headers=headers)

    def event_payload(self, event_type, content, timestamp=1_790_000_000_000):
        return {"type": event_type, "timestamp": timestamp, "content": content}

    def post_event(self, event_type, content, **kwargs):
        response = self.post(self.event_payload(event_type, content), **kwargs)
        self.assertEqual(response.status_code, 200, response.text)
        return self.Event.search([], order="id desc", limit=1)

    def add_item(self, accounts, **kwargs):
        """An item of the signatory's Bridge user, its webhooks sent (and
        stored) as Bridge Connect sends them; return the item."""
        item = self.emu.add_item(self.user_uuid, accounts=accounts, **kwargs)
        deliveries = self.emu.send_connect_webhooks(item["id"], sync=True)
        self.assertTrue(deliveries)
        self.assertEqual({delivery.status for delivery in deliveries}, {200})
        return item

    def process(self):
        """Run the processing cron's method until nothing is left, as the
        cron's progress loop does."""
        events = self.Event.browse()
        while batch := self.Event._cron_process_events():
            events |= batch
        return events

    def count_rows(self, *tables):
        # what the ORM still holds (tracking messages...) goes to the database
        self.env.cr.flush()
        counts = {}
        for table in tables:
            self.env.cr.execute(SQL("SELECT count(*) FROM %s", SQL.identifier(table)))
            counts[table] = self.env.cr.fetchone()[0]
        return counts
