# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Concurrent deliveries and cron workers, in real, separate transactions.

Here the registry is not in test mode: each request to the route and each worker
has its own connection and commits, as in production. What the tests commit is
deleted at the end.
"""

import json
import threading
import time

import requests

from odoo import SUPERUSER_ID, api
from odoo.tests import HttpCase, tagged
from odoo.tools import SQL

from odoo.addons.openbanking_bridge import const
from odoo.addons.openbanking_bridge.bridge import compute_signature
from odoo.addons.openbanking_bridge.models.openbanking_web_service import (
    WEBHOOK_ROUTE,
)

# seconds a thread may take before the test fails instead of hanging
THREAD_TIMEOUT = 60


@tagged("post_install", "-at_install")
class TestWebhookConcurrency(HttpCase):
    registry_test_mode = False
    secret = "whsec-concurrency-7d2e"
    calling_code = "concurrency"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with cls.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            # the route needs a single active service, or calling codes on all
            active_sudo = env["openbanking.web.service"].search([])
            active_sudo.action_archive()
            bank = env["res.bank"].create(
                {"name": "Banque Concurrence", "openbanking_type": "open_banking"}
            )
            service = env["openbanking.web.service"].create(
                {
                    "name": "Bridge Concurrence",
                    "bank_id": bank.id,
                    "calling_code": cls.calling_code,
                    "webhook_secret": cls.secret,
                }
            )
            cls.service_id, cls.bank_id = service.id, bank.id
            cls.archived_ids = active_sudo.ids
        cls.addClassCleanup(cls._delete_committed)

    @classmethod
    def _delete_committed(cls):
        with cls.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            service = env["openbanking.web.service"].browse(cls.service_id)
            env["openbanking.webhook.event"].search(
                [("service_id", "=", service.id)]
            ).unlink()
            service.unlink()
            env["res.bank"].browse(cls.bank_id).unlink()
            env["openbanking.web.service"].browse(cls.archived_ids).action_unarchive()

    def setUp(self):
        super().setUp()
        self.addCleanup(self._delete_events)

    def _delete_events(self):
        with self.registry.cursor() as cr:
            cr.execute(
                SQL(
                    "DELETE FROM openbanking_webhook_event WHERE service_id = %s",
                    self.service_id,
                )
            )

    def _body(self, item_id):
        """An item.deleted for an item nobody linked: processed without Bridge."""
        return json.dumps(
            {
                "type": const.EVENT_ITEM_DELETED,
                "timestamp": 1_790_000_000_000 + item_id,
                "content": {"item_id": item_id, "user_uuid": "nobody-here"},
            }
        ).encode()

    def _post(self, body):
        # straight to the server, not through the test's opener
        return requests.post(
            f"{self.base_url()}{WEBHOOK_ROUTE}/{self.calling_code}",
            data=body,
            headers={
                "Content-Type": "application/json",
                const.WEBHOOK_SIGNATURE_HEADER: (
                    f"v1={compute_signature(body, self.secret)}"
                ),
            },
            timeout=THREAD_TIMEOUT,
        )

    def _post_events(self, count):
        for item_id in range(1, count + 1):
            response = self._post(self._body(item_id))
            self.assertEqual(response.status_code, 200, response.text)

    def _read_events(self):
        """``{id: (state, attempt_count)}`` of the service's events, as committed."""
        with self.registry.cursor() as cr:
            cr.execute(
                SQL(
                    "SELECT id, state, attempt_count FROM openbanking_webhook_event "
                    "WHERE service_id = %s",
                    self.service_id,
                )
            )
            return {row[0]: row[1:] for row in cr.fetchall()}

    def _run_in_thread(self, target):
        errors = []

        def run():
            try:
                target()
            except Exception as error:  # noqa: BLE001 - reported by the test
                errors.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        return thread, errors

    def test_two_workers_take_disjoint_batches(self):
        """While a worker holds its batch, another takes only the other events;
        each event is processed once."""
        self._post_events(10)
        events = self._read_events()
        self.assertEqual(len(events), 10)
        self.assertEqual(set(events.values()), {("received", 0)})
        with self.registry.cursor() as cr_a, self.registry.cursor() as cr_b:
            Event_a = api.Environment(cr_a, SUPERUSER_ID, {})[
                "openbanking.webhook.event"
            ]
            Event_b = api.Environment(cr_b, SUPERUSER_ID, {})[
                "openbanking.webhook.event"
            ]
            batch_a = Event_a._openbanking_take_batch(4)
            # the first worker has not committed: its events are locked
            batch_b = Event_b._openbanking_take_batch(100)
            self.assertEqual(len(batch_a), 4)
            self.assertEqual(len(batch_b), 6)
            self.assertFalse(set(batch_a.ids) & set(batch_b.ids))
            self.assertEqual(set(batch_a.ids) | set(batch_b.ids), set(events))
            batch_a._openbanking_process()
            cr_a.commit()
            batch_b._openbanking_process()
            cr_b.commit()
        self.assertEqual(set(self._read_events().values()), {("done", 1)})
        with self.registry.cursor() as cr:
            Event = api.Environment(cr, SUPERUSER_ID, {})["openbanking.webhook.event"]
            self.assertFalse(Event._cron_process_events())

    def test_two_workers_at_once_process_each_event_once(self):
        """Two cron workers started together, in small batches, until nothing
        is left: no event is processed twice, none is left."""
        self._post_events(12)
        processed = {"a": [], "b": []}
        start = threading.Barrier(2, timeout=THREAD_TIMEOUT)

        def worker(name):
            start.wait()
            for _round in range(50):
                with self.registry.cursor() as cr:
                    Event = api.Environment(cr, SUPERUSER_ID, {})[
                        "openbanking.webhook.event"
                    ]
                    batch = Event._cron_process_events(batch_size=3)
                    processed[name] += batch.ids
                    remaining = Event._openbanking_count_ready()
                if not batch and not remaining:
                    return

        threads = [self._run_in_thread(lambda n=name: worker(n)) for name in processed]
        for thread, _errors in threads:
            thread.join(THREAD_TIMEOUT)
            self.assertFalse(thread.is_alive())
        self.assertEqual([errors for _thread, errors in threads], [[], []])
        events = self._read_events()
        taken = processed["a"] + processed["b"]
        self.assertEqual(sorted(taken), sorted(events))
        self.assertEqual(set(events.values()), {("done", 1)})

    def test_same_delivery_at_the_same_moment_stored_once(self):
        """A delivery arriving while its twin is being stored waits for it, and
        is then answered 200 without a second record."""
        body = self._body(99)
        with self.registry.cursor() as cr:
            Event = api.Environment(cr, SUPERUSER_ID, {})["openbanking.webhook.event"]
            reception = Event._openbanking_receive(
                self.calling_code, body, f"v1={compute_signature(body, self.secret)}"
            )
            self.assertEqual(reception.status, 200)
            # not committed yet: the twin's insert waits on this one
            responses = []
            thread, errors = self._run_in_thread(
                lambda: responses.append(self._post(body))
            )
            # the overlap is real: the twin is seen waiting for this insert
            self.assertTrue(self._wait_for_a_lock_wait())
            # this test's own connection, not the test transaction
            cr.commit()  # pylint: disable=invalid-commit
        thread.join(THREAD_TIMEOUT)
        self.assertFalse(thread.is_alive())
        self.assertEqual(errors, [])
        self.assertEqual(responses[0].status_code, 200)
        self.assertEqual(responses[0].text, "Already received")
        self.assertEqual(len(self._read_events()), 1)

    def _wait_for_a_lock_wait(self):
        """Wait until a connection of this database waits for a lock (the twin
        request, blocked by the uncommitted insert); False if none does within
        THREAD_TIMEOUT seconds."""
        deadline = time.monotonic() + THREAD_TIMEOUT
        while time.monotonic() < deadline:
            with self.registry.cursor() as cr:
                cr.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if cr.fetchone()[0]:
                    return True
            time.sleep(0.05)
        return False
