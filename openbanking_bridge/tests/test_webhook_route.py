# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
import os
import select
import time
from unittest.mock import patch

import psycopg2

from odoo.sql_db import connection_info_for
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.openbanking_bridge import const
from odoo.addons.openbanking_bridge.bridge import compute_signature
from odoo.addons.openbanking_bridge.models.openbanking_web_service import (
    WEBHOOK_ROUTE,
)
from odoo.addons.openbanking_bridge.models.openbanking_webhook_event import (
    MAX_BODY_SIZE,
    PROCESS_CRON_XMLID,
)
from odoo.addons.openbanking_bridge.tools import cron as cron_tools

from .common import (
    V2_AUTHENTICATE,
    V2_LIST_ACCOUNTS,
    V3_AUTHENTICATE,
    V3_GET_ACCOUNT,
    V3_LIST_ACCOUNTS,
)
from .webhook_common import EMULATOR_BANK_ID, WebhookCase, make_iban

EVENT_LOGGER = "odoo.addons.openbanking_bridge.models.openbanking_webhook_event"
# what a delivery may write: the event, the cron's trigger, a chatter message
WRITTEN_TABLES = ("openbanking_webhook_event", "ir_cron_trigger", "mail_message")


@tagged("post_install", "-at_install")
class TestWebhookRoute(WebhookCase):
    def test_link_from_webhook_to_bridge_ids(self):
        """Bridge Connect's webhooks, through the real route, end with Bridge's
        ids on the bank and on the bank accounts whose IBAN matches."""
        trigger_count = self.count_rows("ir_cron_trigger")["ir_cron_trigger"]
        item = self.add_item(
            [
                {"iban": self.iban_1, "name": "Compte courant"},
                {"iban": self.iban_2, "name": "Compte pro"},
                {"iban": self.iban_unknown},
                {"iban": None},
            ]
        )
        # the route answered without calling Bridge, and woke the cron up
        self.assertEqual(self.emu.counters(), {})
        self.assertGreater(
            self.count_rows("ir_cron_trigger")["ir_cron_trigger"], trigger_count
        )
        events = self.Event.search([("bridge_item_ref", "=", str(item["id"]))])
        self.assertEqual(
            sorted(events.mapped("event_type")),
            ["item.account.created"] * 4 + ["item.created", "item.refreshed"],
        )
        self.assertEqual(
            events.filtered(lambda e: e.event_type == "item.created").state, "ignored"
        )
        pending = events.filtered(lambda e: e.state == "received")
        self.assertEqual(len(pending), 5)
        self.assertEqual(pending.service_id, self.service)
        self.assertEqual(pending.company_id, self.company)
        self.assertTrue(all(event.event_timestamp for event in pending))

        self.process()

        self.assertEqual(set(events.mapped("state")), {"done", "ignored"})
        self.assertEqual(events.mapped("attempt_count"), [1] * 5 + [0])
        bridge_ids = {account["iban"]: account["id"] for account in item["accounts"]}
        for bank_account, iban in (
            (self.account_1, self.iban_1),
            (self.account_2, self.iban_2),
        ):
            self.assertEqual(bank_account.bridge_account_ref, str(bridge_ids[iban]))
            self.assertEqual(bank_account.bridge_item_ref, str(item["id"]))
            self.assertTrue(bank_account.bridge_link_date)
            self.assertEqual(bank_account.sudo().bridge_signatory_id, self.signatory)
        self.assertEqual(self.bank.bridge_bank_ref, str(EMULATOR_BANK_ID))
        self.assertEqual(self.signatory.state, "connected")
        linked = events.filtered(lambda e: e.bank_account_ids)
        self.assertEqual(linked.bank_account_ids, self.account_1 | self.account_2)
        self.assertEqual(linked.signatory_id, self.signatory)
        unknown = events.filtered(
            lambda e: e.bridge_account_ref == str(bridge_ids[self.iban_unknown])
        )
        self.assertIn("is the IBAN of none of the bank accounts", unknown.message)
        null = events.filtered(lambda e: e.bridge_account_ref == str(bridge_ids[None]))
        self.assertIn("Bridge returned no IBAN for it (null)", null.message)
        # one token and one listing for the whole item
        self.assertEqual(self.emu.count(V3_AUTHENTICATE), 1)
        self.assertEqual(self.emu.count(V3_LIST_ACCOUNTS), 1)

    def test_link_api_v2_bank_id(self):
        """In the 2021-06-01 API the bank's Bridge id is the account's bank_id."""
        self.service.api_mode = "v2_external"
        item = self.add_item([{"iban": self.iban_1}], bank_id=6)
        self.process()
        self.assertEqual(self.account_1.bridge_item_ref, str(item["id"]))
        self.assertEqual(self.bank.bridge_bank_ref, "6")
        self.assertEqual(self.emu.count(V2_AUTHENTICATE), 1)
        self.assertEqual(self.emu.count(V2_LIST_ACCOUNTS), 1)

    def test_fifty_accounts_one_token_one_listing(self):
        """An item with 50 accounts: 50 events, one authentication and one
        account listing (one page: the client asks for 500 a page), no call
        per account."""
        ibans = [make_iban(100 + n) for n in range(50)]
        bank_accounts = self.env["res.partner.bank"].create(
            [
                {"acc_number": iban, "partner_id": self.company.partner_id.id}
                for iban in ibans
            ]
        )
        item = self.add_item([{"iban": iban} for iban in ibans])
        self.assertEqual(
            self.Event.search_count(
                [
                    ("bridge_item_ref", "=", str(item["id"])),
                    ("event_type", "=", "item.account.created"),
                ]
            ),
            50,
        )
        self.process()
        self.assertEqual(self.emu.count(V3_AUTHENTICATE), 1)
        self.assertEqual(self.emu.count(V3_LIST_ACCOUNTS), 1)
        self.assertEqual(self.emu.count(V3_GET_ACCOUNT), 0)
        self.assertEqual(
            set(bank_accounts.mapped("bridge_item_ref")), {str(item["id"])}
        )
        self.assertEqual(
            sorted(bank_accounts.mapped("bridge_account_ref")),
            sorted(str(account["id"]) for account in item["accounts"]),
        )

    def test_rejections_write_nothing(self):
        payload = self.event_payload(
            "item.account.created",
            {"account_id": 1, "item_id": 2, "user_uuid": self.user_uuid},
        )
        body = json.dumps(payload).encode()
        signed = f"v1={compute_signature(body, self.secret)}"
        big_body = json.dumps(
            dict(payload, padding="x" * MAX_BODY_SIZE), separators=(",", ":")
        ).encode()

        def signed_body(data):
            raw = json.dumps(data).encode() if not isinstance(data, bytes) else data
            return {
                "body": raw,
                "signature": f"v1={compute_signature(raw, self.secret)}",
            }

        missing = dict(payload, content={"account_id": 1, "user_uuid": "u"})
        wrong_type = dict(payload, content=dict(payload["content"], item_id="two"))
        cases = [
            ("no signature", {"body": body, "signature": ""}, 403),
            ("wrong secret", {"body": body, "secret": "not-the-secret"}, 403),
            (
                "other scheme",
                {"body": body, "signature": signed.replace("v1", "v0")},
                403,
            ),
            ("tampered body", {"body": body + b" ", "signature": signed}, 403),
            ("unknown code", {"body": body, "code": "nowhere"}, 404),
            ("too large", {"body": big_body}, 413),
            ("not json", signed_body(b"{not json"), 400),
            ("not an object", signed_body([1, 2]), 400),
            ("missing item_id", signed_body(missing), 400),
            ("item_id not an integer", signed_body(wrong_type), 400),
            ("no timestamp", signed_body({"type": "item.created", "content": {}}), 400),
        ]
        for name, kwargs, status in cases:
            with self.subTest(name):
                before = self.count_rows(*WRITTEN_TABLES)
                with mute_logger(EVENT_LOGGER):
                    response = self.post(None, **kwargs)
                self.assertEqual(response.status_code, status, response.text)
                # a short reason (werkzeug's own short page for 413)
                self.assertLess(len(response.content), 300)
                self.assertEqual(self.count_rows(*WRITTEN_TABLES), before)
        # the reason names the field at fault, nothing else
        response = self.post(None, **signed_body(missing))
        self.assertEqual(response.text, "content.item_id: missing")

    def test_invalid_signature_logged_without_secret(self):
        body = json.dumps(self.event_payload("item.created", {})).encode()
        signature = f"v1={compute_signature(body, 'guess')}"
        with self.assertLogs(EVENT_LOGGER, "WARNING") as logs:
            response = self.post(None, body=body, signature=signature)
        self.assertEqual(response.status_code, 403)
        output = "\n".join(logs.output)
        self.assertIn("Bridge Webhook", output)
        self.assertNotIn(self.secret, output)
        self.assertNotIn(signature[3:], output)
        self.assertNotIn(signature[3:].lower(), output)

    def test_previous_secret_accepted(self):
        """During a rotation, the former secret still signs."""
        self.service.write(
            {"webhook_secret": "whsec-new", "webhook_secret_previous": self.secret}
        )
        event = self.post_event(const.EVENT_TEST, {})
        self.assertEqual(event.service_id, self.service)
        self.post_event(const.EVENT_TEST, {"n": 2}, secret="whsec-new")

    def test_unknown_type_ignored_and_test_event(self):
        event = self.post_event("item.exploded", {"item_id": 5})
        self.assertEqual(event.state, "ignored")
        self.assertEqual(event.event_type, "item.exploded")
        self.assertEqual(event.bridge_item_ref, "5")
        self.assertTrue(event.processed_date)
        # the dashboard's test event: timestamp in seconds, no content
        response = self.post({"type": const.EVENT_TEST, "timestamp": 1_790_000_000})
        self.assertEqual(response.status_code, 200)
        event = self.Event.search([], order="id desc", limit=1)
        self.assertEqual(event.event_type, const.EVENT_TEST)
        self.assertEqual(event.state, "done")
        self.assertEqual(str(event.event_timestamp), "2026-09-21 14:13:20")
        # neither is processed
        self.assertFalse(self.process())

    def test_duplicate_delivery_stored_and_processed_once(self):
        item = self.emu.add_item(self.user_uuid, accounts=[{"iban": self.iban_1}])
        events = self.emu.connect_events(item["id"])
        account_created = [e for e in events if e[0] == "item.account.created"]
        first = self.emu.send_webhooks(account_created, sync=True)
        # Bridge sends the same body again; the same JSON written otherwise is
        # the same event too
        again = self.post(None, body=first[0].body, signature=first[0].signature)
        self.assertEqual(again.status_code, 200)
        self.assertEqual(again.text, "Already received")
        reordered = json.dumps(json.loads(first[0].body), indent=2, sort_keys=True)
        self.assertEqual(self.post(None, body=reordered.encode()).status_code, 200)
        event = self.Event.search([("bridge_item_ref", "=", str(item["id"]))])
        self.assertEqual(len(event), 1)
        self.assertEqual(self.process(), event)
        self.assertEqual(event.attempt_count, 1)
        self.assertEqual(self.account_1.bridge_item_ref, str(item["id"]))
        # delivered again after processing: still once
        self.post(None, body=first[0].body, signature=first[0].signature)
        self.assertEqual(len(self.Event.search([("id", ">", event.id)])), 0)
        self.assertFalse(self.process())

    def test_calling_codes(self):
        """With several services, the calling code names the service; without
        one, the service whose secret signs the event."""
        self.service.calling_code = "main"
        bank_2 = self.env["res.bank"].create(
            {"name": "Banque Deux", "openbanking_type": "open_banking"}
        )
        service_2 = self.env["openbanking.web.service"].create(
            {
                "name": "Bridge Deux",
                "bank_id": bank_2.id,
                "calling_code": "deux",
                "webhook_secret": "whsec-deux",
            }
        )
        event = self.post_event(
            const.EVENT_TEST, {"n": 1}, code="DEUX", secret="whsec-deux"
        )
        self.assertEqual(event.service_id, service_2)
        event = self.post_event(const.EVENT_TEST, {"n": 2}, code="main")
        self.assertEqual(event.service_id, self.service)
        # the code names the service: another service's secret is refused
        with mute_logger(EVENT_LOGGER):
            response = self.post(
                self.event_payload(const.EVENT_TEST, {"n": 3}),
                code="main",
                secret="whsec-deux",
            )
        self.assertEqual(response.status_code, 403)
        # no code: the service whose secret verifies
        event = self.post_event(const.EVENT_TEST, {"n": 4}, secret="whsec-deux")
        self.assertEqual(event.service_id, service_2)
        event = self.post_event(const.EVENT_TEST, {"n": 5})
        self.assertEqual(event.service_id, self.service)
        # an archived service's code is unknown
        service_2.action_archive()
        response = self.post(self.event_payload(const.EVENT_TEST, {}), code="deux")
        self.assertEqual(response.status_code, 404)

    def test_get_says_reachable_other_methods_refused(self):
        for path in (WEBHOOK_ROUTE, f"{WEBHOOK_ROUTE}/any-code"):
            response = self.url_open(path)
            self.assertEqual(response.status_code, 200)
            self.assertEqual(
                response.text, "Bridge webhook endpoint: POST signed events here."
            )
        response = self.opener.put(
            f"{self.base_url()}{WEBHOOK_ROUTE}", data=b"{}", timeout=12
        )
        self.assertEqual(response.status_code, 405)
        self.assertFalse(self.Event.search_count([]))

    def _listen_to_cron_workers(self):
        """``(connection, notified)``: a connection listening, as the cron
        workers do, on the postgres database; ``notified(timeout)`` says whether
        this database's cron workers were woken since it was last called."""
        _name, connection_info = connection_info_for("postgres")
        listener = psycopg2.connect(**connection_info)
        self.addCleanup(listener.close)
        listener.autocommit = True
        with listener.cursor() as cursor:
            cursor.execute("LISTEN cron_trigger")

        def notified(timeout=10):
            deadline = time.monotonic() + timeout
            while not listener.notifies and time.monotonic() < deadline:
                select.select([listener], [], [], 1)
                listener.poll()
            payloads = {notify.payload for notify in listener.notifies}
            listener.notifies.clear()
            return self.env.cr.dbname in payloads

        return listener, notified

    def test_stored_event_triggers_and_wakes_the_cron_workers(self):
        """An event to process: a trigger for now, in the same statement, and
        once answered the NOTIFY the cron workers listen to, on the postgres
        database. No trigger for a duplicate, an event with nothing to process,
        or an inactive cron."""
        cron = self.env.ref(PROCESS_CRON_XMLID)
        Trigger = self.env["ir.cron.trigger"]
        before = Trigger.search_count([("cron_id", "=", cron.id)])
        _listener, notified = self._listen_to_cron_workers()

        def receive(event_type, serial):
            content = {"account_id": serial, "item_id": 7, "user_uuid": "u-7"}
            body = json.dumps(self.event_payload(event_type, content)).encode()
            signature = f"v1={compute_signature(body, self.secret)}"
            return self.Event._openbanking_receive(None, body, signature)

        for serial in (1, 2):  # the second through the kept connection
            self.post_event(
                const.EVENT_ACCOUNT_CREATED,
                {"account_id": serial, "item_id": 7, "user_uuid": "u-7"},
            )
            self.assertTrue(notified())
        self.assertEqual(Trigger.search_count([("cron_id", "=", cron.id)]), before + 2)
        self.assertEqual(
            receive(const.EVENT_ACCOUNT_CREATED, 2), (200, "Already received", False)
        )
        self.assertEqual(receive(const.EVENT_TEST, 3), (200, "Received", False))
        self.assertEqual(
            receive(const.EVENT_ACCOUNT_CREATED, 4), (200, "Received", True)
        )
        self.assertEqual(Trigger.search_count([("cron_id", "=", cron.id)]), before + 3)
        cron.active = False
        self.assertEqual(
            receive(const.EVENT_ACCOUNT_CREATED, 5), (200, "Received", False)
        )
        self.assertEqual(Trigger.search_count([("cron_id", "=", cron.id)]), before + 3)
        self.assertEqual(
            self.Event.search([("event_type", "=", const.EVENT_ACCOUNT_CREATED)])
            .sorted("id")
            .mapped("state"),
            ["received"] * 4,
        )
        # the test event, the duplicate: nothing to wake the cron workers for
        self.post_event(const.EVENT_TEST, {"n": 6})
        self.post_event(
            const.EVENT_ACCOUNT_CREATED,
            {"account_id": 1, "item_id": 7, "user_uuid": "u-7"},
        )
        self.assertFalse(notified(timeout=2))

    def test_waking_survives_a_broken_connection(self):
        """The kept connection to postgres, broken (its server process ended):
        made again at once, the cron workers woken; should that fail too, a
        warning, and nothing raised."""
        listener, notified = self._listen_to_cron_workers()

        def break_kept_connection():
            kept = cron_tools._connections[os.getpid()]
            with listener.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(%s)", [kept.get_backend_pid()]
                )
            self.assertFalse(kept.closed)  # psycopg2 finds out when used

        cron_tools.wake_cron_workers(self.env.cr.dbname)
        self.assertTrue(notified())
        break_kept_connection()
        cron_tools.wake_cron_workers(self.env.cr.dbname)
        self.assertTrue(notified())
        break_kept_connection()
        with (
            patch.object(
                cron_tools.psycopg2, "connect", side_effect=psycopg2.OperationalError
            ),
            self.assertLogs(cron_tools.__name__, "WARNING") as logs,
        ):
            cron_tools.wake_cron_workers(self.env.cr.dbname)
        self.assertIn("Could not wake the cron workers", logs.output[0])
        self.assertFalse(notified(timeout=2))
