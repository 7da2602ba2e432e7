# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from odoo.addons.openbanking_bridge import const
from odoo.addons.openbanking_bridge.models.openbanking_webhook_event import (
    MAX_ATTEMPTS,
    RETRY_DELAYS_MINUTES,
)

from .common import V3_AUTHENTICATE, V3_LIST_ACCOUNTS
from .webhook_common import WebhookCase

CONSENT_ACTIVITY = "openbanking_bridge.mail_activity_type_openbanking_consent"


@tagged("post_install", "-at_install")
class TestWebhookProcessing(WebhookCase):
    def _account_created(self, item, index=0):
        account = item["accounts"][index]
        return self.post_event(
            const.EVENT_ACCOUNT_CREATED,
            {
                "account_id": account["id"],
                "item_id": item["id"],
                "user_uuid": self.user_uuid,
                "balance": 10.5,
            },
        )

    def _refreshed(self, item_id, status_code, info=None, **kwargs):
        return self.post_event(
            const.EVENT_ITEM_REFRESHED,
            {
                "item_id": item_id,
                "user_uuid": self.user_uuid,
                "status_code": status_code,
                "status_code_info": info,
                **kwargs,
            },
        )

    def _consent_activities(self):
        return self.signatory.activity_search([CONSENT_ACTIVITY])

    # ------------------------------------------------------------------
    # Bridge failing
    # ------------------------------------------------------------------

    def test_bridge_failing_then_recovering_ends_linked(self):
        item = self.emu.add_item(self.user_uuid, accounts=[{"iban": self.iban_1}])
        event = self._account_created(item)
        # Bridge answers 503 to every listing, the client's own retries included
        self.emu.inject_fault(V3_LIST_ACCOUNTS, status=503, times=None)
        start = fields.Datetime.now()
        with freeze_time(start):
            self.process()
        self.assertEqual(event.state, "retry")
        self.assertEqual(event.attempt_count, 1)
        self.assertEqual(
            event.next_attempt_date,
            start + timedelta(minutes=RETRY_DELAYS_MINUTES[0]),
        )
        self.assertIn("Bridge cannot be reached right now", event.message)
        self.assertFalse(self.account_1.bridge_account_ref)
        # the cron is triggered for the retry
        trigger = self.env["ir.cron.trigger"].search(
            [("call_at", "=", event.next_attempt_date)]
        )
        self.assertEqual(
            trigger.cron_id,
            self.env.ref(
                "openbanking_bridge.ir_cron_openbanking_webhook_event_process"
            ),
        )
        # not before its time
        with freeze_time(start + timedelta(seconds=30)):
            self.assertFalse(self.process())
        self.emu.clear_faults()
        with freeze_time(event.next_attempt_date):
            self.assertEqual(self.process(), event)
        self.assertEqual(event.state, "done")
        self.assertEqual(event.attempt_count, 2)
        self.assertFalse(event.next_attempt_date)
        self.assertEqual(
            self.account_1.bridge_account_ref, str(item["accounts"][0]["id"])
        )

    def test_bridge_failing_too_long_fails_then_processed_again(self):
        item = self.emu.add_item(self.user_uuid, accounts=[{"iban": self.iban_1}])
        event = self._account_created(item)
        self.emu.inject_fault(V3_LIST_ACCOUNTS, status=429, times=None)
        moment = fields.Datetime.now()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            with freeze_time(moment):
                self.assertEqual(self.process(), event)
            self.assertEqual(event.attempt_count, attempt)
            moment = event.next_attempt_date
        self.assertEqual(event.state, "failed")
        self.assertFalse(event.next_attempt_date)
        self.assertIn(
            f"Bridge still failed after {MAX_ATTEMPTS} attempts", event.message
        )
        self.assertIn("too many requests", event.message)
        # a failed event stays so
        self.assertFalse(self.process())
        with self.assertRaises(AccessError):
            event.with_user(self.user).action_process_again()
        event.with_user(self.manager).action_process_again()
        self.assertEqual(event.state, "received")
        self.assertEqual(event.attempt_count, 0)
        self.emu.clear_faults()
        self.process()
        self.assertEqual(event.state, "done")
        self.assertEqual(self.account_1.bridge_item_ref, str(item["id"]))

    def test_one_failing_item_leaves_the_others_done(self):
        """Each item is listed once; one listing failing sends its events to
        retry and leaves the batch's other events done."""
        item_1 = self.emu.add_item(self.user_uuid, accounts=[{"iban": self.iban_1}])
        item_2 = self.emu.add_item(self.user_uuid, accounts=[{"iban": self.iban_2}])
        event_1 = self._account_created(item_1)
        event_2 = self._account_created(item_2)
        # the first listing and its 3 retries by the client
        self.emu.inject_fault(V3_LIST_ACCOUNTS, drop=True, times=4)
        self.assertEqual(self.process(), event_1 | event_2)
        self.assertEqual(event_1.state, "retry")
        self.assertEqual(event_2.state, "done")
        self.assertFalse(self.account_1.bridge_account_ref)
        self.assertEqual(self.account_2.bridge_item_ref, str(item_2["id"]))
        self.assertEqual(self.emu.count(V3_LIST_ACCOUNTS), 5)
        self.assertEqual(self.emu.count(V3_AUTHENTICATE), 1)

    def test_refused_token_renewed_once(self):
        """A stored token Bridge refuses (401) is dropped, a new one asked for,
        and the listing made again, once."""
        self.signatory._openbanking_get_user_token()
        item = self.emu.add_item(self.user_uuid, accounts=[{"iban": self.iban_1}])
        self._account_created(item)
        self.emu.reset_counters()
        self.emu.inject_fault(V3_LIST_ACCOUNTS, status=401, times=1)
        self.process()
        self.assertEqual(self.account_1.bridge_item_ref, str(item["id"]))
        self.assertEqual(self.emu.count(V3_AUTHENTICATE), 1)
        self.assertEqual(self.emu.count(V3_LIST_ACCOUNTS), 2)

    def test_credentials_refused_fails(self):
        item = self.emu.add_item(self.user_uuid, accounts=[{"iban": self.iban_1}])
        event = self._account_created(item)
        self.emu.inject_fault(V3_AUTHENTICATE, status=401, times=None)
        self.process()
        self.assertEqual(event.state, "failed")
        self.assertIn("refused the credentials of the web service", event.message)

    def test_item_unknown_at_bridge(self):
        item = self.emu.add_item(self.user_uuid, accounts=[{"iban": self.iban_1}])
        event = self._account_created(item)
        self.emu.state.delete_item(self.user_uuid, item["id"])
        self.process()
        self.assertEqual(event.state, "done")
        self.assertIn(f"Bridge no longer knows the item {item['id']}", event.message)

    # ------------------------------------------------------------------
    # Linking cases
    # ------------------------------------------------------------------

    def test_linked_without_authorization_is_recorded(self):
        """Bridge is not blocked (seed step 4): the account is linked, and the
        event says its signatory holds no right on it."""
        self.env["openbanking.authorization"].create(
            {
                "bank_account_id": self.account_2.id,
                "user_id": self.user.id,
                "right": "manage",
            }
        )
        item = self.emu.add_item(
            self.user_uuid, accounts=[{"iban": self.iban_1}, {"iban": self.iban_2}]
        )
        event_1 = self._account_created(item, 0)
        event_2 = self._account_created(item, 1)
        self.process()
        self.assertEqual(self.account_1.bridge_item_ref, str(item["id"]))
        self.assertIn(
            "holds no authorization to manage this bank account", event_1.message
        )
        self.assertIn("Wanda Webhook", event_1.message)
        self.assertEqual(self.account_2.bridge_item_ref, str(item["id"]))
        self.assertNotIn("authorization", event_2.message)
        # the authorization checks block the user on the linked account
        self.assertFalse(
            self.account_1._openbanking_has_right("consult", user=self.user)
        )

    def test_same_iban_twice_in_odoo_links_neither(self):
        contact = self.env["res.partner"].create(
            {"name": "Site de Lyon", "parent_id": self.company.partner_id.id}
        )
        twin = self.env["res.partner.bank"].create(
            {"acc_number": self.iban_1, "partner_id": contact.id}
        )
        item = self.emu.add_item(self.user_uuid, accounts=[{"iban": self.iban_1}])
        event = self._account_created(item)
        self.process()
        self.assertEqual(event.state, "done")
        self.assertFalse(self.account_1.bridge_account_ref)
        self.assertFalse(twin.bridge_account_ref)
        self.assertFalse(self.bank.bridge_bank_ref)
        self.assertIn("is the IBAN of several bank accounts", event.message)
        self.assertEqual(event.bank_account_ids, self.account_1 | twin)

    def test_other_partners_accounts_not_matched(self):
        """Only the company's own bank accounts are linked: a supplier's account
        with the IBAN is not the company's."""
        self.account_1.partner_id = self.env["res.partner"].create(
            {"name": "Fournisseur"}
        )
        item = self.emu.add_item(
            self.user_uuid, accounts=[{"iban": self.iban_1}, {"iban": None}]
        )
        event = self._account_created(item)
        self.process()
        self.assertFalse(self.account_1.bridge_account_ref)
        self.assertIn("none of the bank accounts of", event.message)
        # every IBAN Bridge returned for the item is listed, a null one said so
        bridge_ids = [account["id"] for account in item["accounts"]]
        self.assertIn(f"(account {bridge_ids[0]})", event.message)
        self.assertIn(f"no IBAN (account {bridge_ids[1]})", event.message)

    def test_bridge_account_linked_elsewhere_not_moved(self):
        item = self.emu.add_item(self.user_uuid, accounts=[{"iban": self.iban_1}])
        bridge_id = str(item["accounts"][0]["id"])
        self.account_2.sudo().bridge_account_ref = bridge_id
        event = self._account_created(item)
        self.process()
        self.assertEqual(self.account_2.bridge_account_ref, bridge_id)
        self.assertFalse(self.account_1.bridge_account_ref)
        self.assertIn("is already linked to the bank account", event.message)
        self.assertIn("it is not moved", event.message)

    def test_relinked_to_a_new_bridge_account(self):
        """Connected again at Bridge, the account gets its new Bridge ids."""
        self.account_1.sudo().write(
            {"bridge_account_ref": "999", "bridge_item_ref": "9"}
        )
        item = self.emu.add_item(self.user_uuid, accounts=[{"iban": self.iban_1}])
        event = self._account_created(item)
        self.process()
        self.assertEqual(
            self.account_1.bridge_account_ref, str(item["accounts"][0]["id"])
        )
        self.assertIn("It was linked to the Bridge account 999 before.", event.message)

    def test_unknown_user(self):
        event = self.post_event(
            const.EVENT_ACCOUNT_CREATED,
            {"account_id": 1, "item_id": 2, "user_uuid": "not-a-signatory"},
        )
        self.process()
        self.assertEqual(event.state, "done")
        self.assertIn("has the Bridge user not-a-signatory", event.message)
        self.assertEqual(self.emu.counters(), {})

    def test_events_ending_alike_cost_the_same_queries_whatever_their_number(self):
        """Events with nothing to apply take no savepoint, and the events that
        end alike are written by one UPDATE: processing 3 or 12 of them costs
        the same queries."""

        def queries_to_process(first, count):
            events = self.Event
            for serial in range(first, first + count):
                events |= self.post_event(
                    const.EVENT_ACCOUNT_CREATED,
                    {"account_id": serial, "item_id": 2, "user_uuid": "nobody"},
                )
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            self.assertEqual(set(self.Event._cron_process_events()), set(events))
            self.env.flush_all()
            queries = self.env.cr.sql_log_count - before
            self.assertEqual(set(events.mapped("state")), {"done"})
            self.assertEqual(set(events.mapped("attempt_count")), {1})
            self.assertIn("has the Bridge user nobody", events[0].message)
            return queries

        self.assertEqual(queries_to_process(100, 3), queries_to_process(200, 12))

    def test_outcome_in_the_company_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["openbanking_bridge"], ["fr_FR"], overwrite=True
        )
        self.company.partner_id.lang = "fr_FR"
        event = self.post_event(
            const.EVENT_ACCOUNT_CREATED,
            {"account_id": 1, "item_id": 2, "user_uuid": "not-a-signatory"},
        )
        self.process()
        self.assertIn("n'a l'utilisateur Bridge not-a-signatory", event.message)

    # ------------------------------------------------------------------
    # item.refreshed
    # ------------------------------------------------------------------

    def test_consent_needed_one_activity_then_closed(self):
        first = self._refreshed(41, 1010, "SCA required")
        self._refreshed(41, 1010, "SCA required", full_refresh=False)
        self._refreshed(42, 402)
        self.process()
        self.assertEqual(self.signatory.state, "consent_needed")
        self.assertIn("(Bridge status 1010: SCA required)", first.message)
        activity = self._consent_activities()
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.user)
        self.assertIn("SCA required", str(activity.note))
        # renewed: connected, the to-do done
        done = self._refreshed(41, 0, "OK")
        self.process()
        self.assertEqual(done.state, "done")
        self.assertEqual(self.signatory.state, "connected")
        self.assertFalse(self._consent_activities())
        self.assertFalse(activity.exists())

    def test_other_status_recorded(self):
        event = self._refreshed(43, 1003)
        self.process()
        self.assertEqual(event.state, "done")
        self.assertEqual(self.signatory.state, "registered")
        self.assertIn("status 1003 (Temporary failure, retry later)", event.message)

    # ------------------------------------------------------------------
    # One listing per item across batches
    # ------------------------------------------------------------------

    def _account_event(self, event_type, item, account_id):
        return self.post_event(
            event_type,
            {
                "account_id": account_id,
                "item_id": item["id"],
                "user_uuid": self.user_uuid,
            },
        )

    def test_burst_in_several_batches_lists_the_item_once(self):
        """Connect's events taken in several batches as they arrive: the listing
        made for the first is reused for the others."""
        item = self.emu.add_item(
            self.user_uuid, accounts=[{"iban": self.iban_1}, {"iban": self.iban_2}]
        )
        self._account_created(item, 0)
        self.process()
        self._account_created(item, 1)
        self.process()
        self.assertEqual(self.account_1.bridge_item_ref, str(item["id"]))
        self.assertEqual(self.account_2.bridge_item_ref, str(item["id"]))
        self.assertEqual(self.emu.count(V3_LIST_ACCOUNTS), 1)
        self.assertEqual(self.emu.count(V3_AUTHENTICATE), 1)

    def test_account_missing_from_the_listing_lists_again(self):
        item = self.emu.add_item(self.user_uuid, accounts=[{"iban": self.iban_1}])
        self._account_created(item, 0)
        self.process()
        event = self._account_event(const.EVENT_ACCOUNT_CREATED, item, 987654)
        self.process()
        self.assertEqual(self.emu.count(V3_LIST_ACCOUNTS), 2)
        self.assertIn("Bridge no longer lists the account 987654", event.message)

    def test_deletion_received_since_the_listing_lists_again(self):
        item = self.emu.add_item(
            self.user_uuid, accounts=[{"iban": self.iban_1}, {"iban": self.iban_2}]
        )
        self._account_created(item, 0)
        self.process()
        self.emu.state.delete_item(self.user_uuid, item["id"])
        self.post_event(
            const.EVENT_ITEM_DELETED,
            {"item_id": item["id"], "user_uuid": self.user_uuid},
        )
        self.process()
        # delivered late, after the deletion: Bridge is asked, not the old listing
        event = self._account_created(item, 1)
        self.process()
        self.assertEqual(self.emu.count(V3_LIST_ACCOUNTS), 2)
        self.assertIn(f"Bridge no longer knows the item {item['id']}", event.message)
        self.assertFalse(self.account_2.bridge_account_ref)

    # ------------------------------------------------------------------
    # Deletions
    # ------------------------------------------------------------------

    def _link_both(self):
        item = self.add_item([{"iban": self.iban_1}, {"iban": self.iban_2}])
        events = self.process()
        self.assertTrue(self.account_1.bridge_account_ref, events.mapped("message"))
        return item

    def test_account_deleted(self):
        item = self._link_both()
        account_id = item["accounts"][0]["id"]
        event = self.post_event(
            const.EVENT_ACCOUNT_DELETED,
            {
                "account_id": account_id,
                "item_id": item["id"],
                "user_uuid": self.user_uuid,
            },
        )
        self.process()
        self.assertFalse(self.account_1.bridge_account_ref)
        self.assertFalse(self.account_1.bridge_item_ref)
        self.assertFalse(self.account_1.bridge_link_date)
        self.assertTrue(self.account_2.bridge_account_ref)
        self.assertEqual(event.bank_account_ids, self.account_1)
        # the history stays: the event that linked it
        linking = self.Event.search(
            [("bridge_account_ref", "=", str(account_id)), ("id", "!=", event.id)]
        )
        self.assertEqual(linking.bank_account_ids, self.account_1)

    def test_item_deleted(self):
        item = self._link_both()
        self.emu.state.delete_item(self.user_uuid, item["id"])
        event = self.post_event(
            const.EVENT_ITEM_DELETED,
            {"item_id": item["id"], "user_uuid": self.user_uuid},
        )
        self.process()
        self.assertFalse(
            any((self.account_1 | self.account_2).mapped("bridge_item_ref"))
        )
        self.assertEqual(event.bank_account_ids, self.account_1 | self.account_2)
        self.assertIn(
            "no longer linked to the Bridge item",
            "".join(self.signatory.message_ids.mapped("body")),
        )

    def test_user_deleted(self):
        self._link_both()
        self.signatory._openbanking_get_user_token()
        event = self.post_event(const.EVENT_USER_DELETED, {"user_uuid": self.user_uuid})
        self.process()
        self.assertEqual(event.state, "done")
        self.assertEqual(self.signatory.state, "not_registered")
        self.assertFalse(self.signatory.bridge_user_uuid)
        self.assertFalse(self.signatory.sudo().bridge_access_token)
        self.assertFalse(
            any((self.account_1 | self.account_2).mapped("bridge_account_ref"))
        )
        self.assertIn(
            "Bridge deleted its user",
            "".join(self.signatory.message_ids.mapped("body")),
        )
        # delivered again, for a user now unknown: nothing more happens
        again = self.post_event(
            const.EVENT_USER_DELETED, {"user_uuid": self.user_uuid}, secret=self.secret
        )
        self.assertEqual(again, event)

    # ------------------------------------------------------------------
    # The crons, retention, access
    # ------------------------------------------------------------------

    def test_crons_run(self):
        """The crons' code runs the processing, which reports its progress, and
        the cleaning."""
        cron = self.env.ref(
            "openbanking_bridge.ir_cron_openbanking_webhook_event_process"
        )
        events = self._refreshed(44, 0) | self._refreshed(45, 0)
        cron.method_direct_trigger()
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertEqual(self.signatory.state, "connected")
        progress = self.env["ir.cron.progress"].search(
            [("cron_id", "=", cron.id)], order="id desc", limit=1
        )
        self.assertEqual((progress.done, progress.remaining), (2, 0))
        events.processed_date = fields.Datetime.now() - timedelta(days=31)
        self.env.ref(
            "openbanking_bridge.ir_cron_openbanking_webhook_event_clean"
        ).method_direct_trigger()
        self.assertFalse(events.exists())

    def test_old_done_events_cleaned(self):
        self.service.event_retention_days = 10
        now = fields.Datetime.now()
        old_done = self.post_event(const.EVENT_TEST, {"n": 1})
        old_ignored = self.post_event("item.created", {"item_id": 1, "user_uuid": "u"})
        old_failed = self.post_event(const.EVENT_TEST, {"n": 2})
        recent = self.post_event(const.EVENT_TEST, {"n": 3})
        (old_done | old_ignored | old_failed).write(
            {"processed_date": now - timedelta(days=11)}
        )
        old_failed.state = "failed"
        recent.processed_date = now - timedelta(days=9)
        self.Event._cron_clean_events()
        self.assertFalse((old_done | old_ignored).exists())
        self.assertEqual((old_failed | recent).exists(), old_failed | recent)

    def test_access(self):
        event = self.post_event(const.EVENT_TEST, {})
        self.assertEqual(
            event.with_user(self.manager).read(["message"])[0]["id"], event.id
        )
        with self.assertRaises(AccessError):
            event.with_user(self.user).read(["message"])
        with self.assertRaises(AccessError):
            event.with_user(self.manager).write({"state": "received"})
        with self.assertRaises(AccessError):
            self.Event.with_user(self.manager).create(
                {"service_id": self.service.id, "event_type": "x", "delivery_key": "k"}
            )
        # other companies' events are not seen
        other_company = self.env["res.company"].create({"name": "Autre Société"})
        self.manager.company_ids |= other_company
        event.sudo().company_id = other_company
        self.assertFalse(
            self.Event.with_user(self.manager)
            .with_context(allowed_company_ids=[self.company.id])
            .search([("id", "=", event.id)])
        )
