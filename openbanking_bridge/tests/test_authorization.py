# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, tagged

from .authorization_common import LinkedAccountCase
from .common import (
    V2_CONNECT,
    V2_GET_ACCOUNT,
    V2_GET_ITEM,
    V2_REFRESH,
    V3_CONNECT,
    OpenbankingCase,
)


@tagged("post_install", "-at_install")
class TestAuthorization(OpenbankingCase):
    """Granting, changing and revoking authorizations."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Authorization = cls.env["openbanking.authorization"].with_user(cls.user)
        # the user manages the account: they may authorize others on it
        cls.own = cls.env["openbanking.authorization"].create(
            {
                "bank_account_id": cls.account.id,
                "user_id": cls.user.id,
                "right": "manage",
            }
        )
        cls.account_2 = cls.env["res.partner.bank"].create(
            {
                "acc_number": "FR76 9999 9000 0100 0876 5432 275",
                "partner_id": cls.partner.id,
                "bank_id": cls.bank.id,
            }
        )

    def test_action_open_authorizations(self):
        action = self.account.with_user(self.user).action_open_authorizations()
        self.assertEqual(action["type"], "ir.actions.act_window")
        self.assertEqual(action["res_model"], "openbanking.authorization")
        self.assertEqual(action["domain"], [("bank_account_id", "=", self.account.id)])
        self.assertEqual(
            action["context"], {"default_bank_account_id": self.account.id}
        )
        self.assertIn("Open Banking Access to FR76", action["name"])
        # a new authorization is pre-filled with the account and the grant
        form = Form(self.Authorization.with_context(**action["context"]))
        self.assertEqual(form.bank_account_id, self.account)
        self.assertEqual(form.right, "consult")
        form.user_id = self.other_user
        form.right = "synchronize"
        authorization = form.save()
        self.assertEqual(authorization.granted_by_id, self.user)
        self.assertTrue(authorization.grant_date)
        self.assertEqual(authorization.company_id, self.account.openbanking_company_id)
        self.assertEqual(self.account.openbanking_authorization_count, 2)

    def test_one_authorization_per_user_and_account(self):
        self.Authorization.create(
            {"bank_account_id": self.account.id, "user_id": self.other_user.id}
        )
        with self.assertRaisesMessage(
            ValidationError,
            "Oscar Other already holds an authorization on the bank account FR76",
        ):
            self.Authorization.create(
                {
                    "bank_account_id": self.account.id,
                    "user_id": self.other_user.id,
                    "right": "manage",
                }
            )

    def test_grant_recorded_as_the_current_user(self):
        authorization = self.Authorization.create(
            {
                "bank_account_id": self.account.id,
                "user_id": self.other_user.id,
                "granted_by_id": self.manager.id,
                "grant_date": "2000-01-01 00:00:00",
            }
        )
        self.assertEqual(authorization.granted_by_id, self.user)
        self.assertNotEqual(authorization.grant_date.year, 2000)
        authorization.with_user(self.manager).write(
            {"granted_by_id": self.other_user.id}
        )
        self.assertEqual(authorization.granted_by_id, self.user)
        authorization.with_user(self.manager).right = "manage"
        self.assertEqual(authorization.granted_by_id, self.manager)

    def test_rights_are_cumulative(self):
        account = self.account_2.with_user(self.user)
        self.assertFalse(account._openbanking_get_right())
        self.assertFalse(account._openbanking_has_right("consult"))
        authorization = self.env["openbanking.authorization"].create(
            {
                "bank_account_id": self.account_2.id,
                "user_id": self.user.id,
                "right": "synchronize",
            }
        )
        self.assertEqual(account._openbanking_get_right(), "synchronize")
        self.assertTrue(account._openbanking_has_right("consult"))
        self.assertTrue(account._openbanking_has_right("synchronize"))
        self.assertFalse(account._openbanking_has_right("manage"))
        self.assertFalse(
            account._openbanking_has_right("consult", user=self.other_user)
        )
        authorization.right = "manage"
        self.assertTrue(account._openbanking_has_right("manage"))

    def test_grant_needs_manage_right(self):
        """Without the manage right on the account, nothing is granted, changed
        or revoked; the error names the account and the right."""
        message = (
            "You need the Manage right on the bank account FR76 9999 9000 0100 "
            "0876 5432 275 - Banque Test Bridge for this."
        )
        Authorization = self.env["openbanking.authorization"]
        for right in (None, "consult", "synchronize"):
            with self.subTest(right=right):
                own = (
                    Authorization.create(
                        {
                            "bank_account_id": self.account_2.id,
                            "user_id": self.user.id,
                            "right": right,
                        }
                    )
                    if right
                    else Authorization
                )
                other = Authorization.create(
                    {"bank_account_id": self.account_2.id, "user_id": self.manager.id}
                )
                before = Authorization.search_read(
                    [("bank_account_id", "=", self.account_2.id)],
                    ["user_id", "right", "granted_by_id", "grant_date"],
                )
                # grant to a colleague, or to oneself
                for user in (self.other_user, self.user):
                    if user == self.user and own:
                        continue
                    with self.assertRaisesMessage(AccessError, message):
                        self.Authorization.create(
                            {
                                "bank_account_id": self.account_2.id,
                                "user_id": user.id,
                                "right": "manage",
                            }
                        )
                # the account as the dialog's default
                with self.assertRaisesMessage(AccessError, message):
                    self.Authorization.with_context(
                        default_bank_account_id=self.account_2.id
                    ).create({"user_id": self.other_user.id})
                # change: one's own right, another's, or move one of the
                # account the user manages to this one
                for authorization, vals in (
                    (own, {"right": "manage"}),
                    (other, {"right": "manage"}),
                    (other, {"user_id": self.other_user.id}),
                    (self.own, {"bank_account_id": self.account_2.id}),
                ):
                    if not authorization:
                        continue
                    with self.assertRaisesMessage(AccessError, message):
                        authorization.with_user(self.user).write(vals)
                with self.assertRaisesMessage(AccessError, message):
                    other.with_user(self.user).unlink()
                self.assertEqual(
                    Authorization.search_read(
                        [("bank_account_id", "=", self.account_2.id)],
                        ["user_id", "right", "granted_by_id", "grant_date"],
                    ),
                    before,
                )
                self.assertEqual(self.own.bank_account_id, self.account)
                (own | other).unlink()

    def test_grant_with_manage_right(self):
        authorization = self.Authorization.create(
            {"bank_account_id": self.account.id, "user_id": self.other_user.id}
        )
        authorization.right = "manage"
        self.assertEqual(authorization.right, "manage")
        authorization.unlink()
        self.assertFalse(authorization.exists())
        # one's own authorization too: down to consult, the user manages no more
        self.own.with_user(self.user).right = "consult"
        with self.assertRaises(AccessError):
            self.own.with_user(self.user).right = "manage"

    def test_managers_grant_any(self):
        """Managers grant rights on any account of their companies, with no
        authorization of their own."""
        Authorization = self.env["openbanking.authorization"].with_user(self.manager)
        authorization = Authorization.create(
            {"bank_account_id": self.account_2.id, "user_id": self.user.id}
        )
        self.assertEqual(authorization.granted_by_id, self.manager)
        authorization.right = "manage"
        authorization.unlink()
        self.assertFalse(self.account_2._openbanking_get_right(user=self.manager))


@tagged("post_install", "-at_install")
class TestAccountActions(LinkedAccountCase):
    """Every action on a linked bank account checks the user's right on it:
    refused without, nothing changed; done with it."""

    def assertRefused(self, method, right, *, user=None):
        """``method`` of the linked account is refused to ``user`` (default: the
        plain user) with a message naming the account and ``right``, and
        changes nothing, at Bridge or in Odoo."""
        account = self.linked.with_user(user or self.user)
        bridge_before = self.bridge_state()
        signatory_before = self.signatory_state()
        with self.assertRaises(AccessError) as catcher:
            getattr(account, method)()
        message = str(catcher.exception)
        self.assertIn(f"You need the {right} right on the bank account", message)
        self.assertIn(self.linked.display_name, message)
        self.assertEqual(self.emu.counters(), {})
        self.assertEqual(self.bridge_state(), bridge_before)
        self.assertEqual(self.signatory_state(), signatory_before)

    def test_details_need_consult(self):
        self.assertRefused("action_openbanking_details", "Consult")
        # a manager too needs an authorization of their own
        self.assertRefused("action_openbanking_details", "Consult", user=self.manager)
        self.grant(self.user, "consult")
        action = self.linked.with_user(self.user).action_openbanking_details()
        self.assertEqual(action["tag"], "display_notification")
        params = action["params"]
        self.assertIn(self.linked.display_name, params["title"])
        self.assertIn("Balance: 1,234.56", params["message"])
        self.assertIn("Name at the bank: Compte courant", params["message"])
        self.assertIn("Connection status: 0 (OK)", params["message"])
        self.assertEqual(self.emu.count(V2_GET_ACCOUNT), 1)
        self.assertEqual(self.emu.count(V2_GET_ITEM), 1)

    def test_details_of_an_account_not_linked(self):
        self.grant(self.user, "consult")
        self.linked._openbanking_unlink_bridge_account()
        with self.assertRaisesMessage(Exception, "is not linked to Bridge"):
            self.linked.with_user(self.user).action_openbanking_details()
        self.assertEqual(self.emu.counters(), {})

    def test_refresh_needs_synchronize(self):
        self.assertRefused("action_openbanking_refresh", "Synchronize")
        self.grant(self.user, "consult")
        self.assertRefused("action_openbanking_refresh", "Synchronize")
        self.env["openbanking.authorization"].search(
            [("user_id", "=", self.user.id)]
        ).right = "synchronize"
        action = self.linked.with_user(self.user).action_openbanking_refresh()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("Bridge is refreshing", action["params"]["message"])
        self.assertEqual(self.emu.count(V2_REFRESH), 1)

    def test_refresh_v3_opens_connect(self):
        """Bridge 2025-01-15 has no refresh call: Connect is opened."""
        self.service.api_mode = "v3"
        self.grant(self.user, "synchronize")
        action = self.linked.with_user(self.user).action_openbanking_refresh()
        self.assertEqual(action["type"], "ir.actions.act_url")
        self.assertTrue(action["url"].startswith(f"{self.emu.url}/connect/session/"))
        self.assertEqual(self.emu.count(V3_CONNECT), 1)

    def test_open_webview_needs_synchronize(self):
        self.grant(self.user, "consult")
        self.assertRefused("action_openbanking_open_webview", "Synchronize")
        self.env["openbanking.authorization"].search(
            [("user_id", "=", self.user.id)]
        ).right = "synchronize"
        action = self.linked.with_user(self.user).action_openbanking_open_webview()
        prefix = f"{self.emu.url}/connect/session/"
        self.assertTrue(action["url"].startswith(prefix), action["url"])
        session = self.emu.state.session(action["url"].removeprefix(prefix))
        # the Bridge user of the signatory who linked the account
        self.assertEqual(session["user_uuid"], self.signatory.bridge_user_uuid)
        self.assertEqual(session["email"], "sam.signatory@example.com")
        self.assertEqual(self.emu.count(V2_CONNECT), 1)
        self.assertTrue(self.signatory.last_connection_date)

    def test_unlink_needs_manage(self):
        self.grant(self.user, "synchronize")
        self.assertRefused("action_openbanking_unlink", "Manage")
        # the Open Banking managers, like everyone
        self.assertRefused("action_openbanking_unlink", "Manage", user=self.manager)
        self.grant(self.manager, "manage")
        self.assertTrue(self.linked.with_user(self.manager).action_openbanking_unlink())
        self.assertEqual(
            self.bridge_state(),
            {
                "bridge_account_ref": False,
                "bridge_item_ref": False,
                "bridge_link_date": False,
                "bridge_signatory_id": False,
            },
        )
        # the history, on the signatory that linked it: no Bridge id in it
        note = self.signatory.message_ids[0]
        self.assertIn("Maud Manager unlinked the bank account FR76", str(note.body))
        self.assertNotIn(str(self.bridge_account["id"]), str(note.body))
        self.assertEqual(self.emu.counters(), {})

    def test_buttons_where_the_right_is_held(self):
        buttons = {
            "action_openbanking_details": "consult",
            "action_openbanking_refresh": "synchronize",
            "action_openbanking_open_webview": "synchronize",
            "action_openbanking_unlink": "manage",
        }
        levels = [None, "consult", "synchronize", "manage"]
        authorization = self.env["openbanking.authorization"]
        for held in levels:
            if held:
                authorization = authorization or self.grant(self.user, held)
                authorization.right = held
            account = self.linked.with_user(self.user)
            for button, needed in buttons.items():
                with self.subTest(held=held, button=button):
                    visible = held is not None and levels.index(held) >= levels.index(
                        needed
                    )
                    self.assertEqual(
                        not self.button_invisible(account, button), visible
                    )
        # none on an account that is not linked
        self.linked._openbanking_unlink_bridge_account()
        account = self.linked.with_user(self.user)
        for button in buttons:
            self.assertTrue(self.button_invisible(account, button))


@tagged("post_install", "-at_install")
class TestBridgeFieldsNeedConsult(LinkedAccountCase):
    """The Bridge data of an account is read only by the users who may consult
    it: enforced by the ORM, whatever the view or the RPC call."""

    RAW_FIELDS = (
        "bridge_account_ref",
        "bridge_item_ref",
        "bridge_link_date",
        "bridge_signatory_id",
    )
    SHOWN_FIELDS = (
        "openbanking_account_ref",
        "openbanking_item_ref",
        "openbanking_link_date",
        "openbanking_signatory_id",
        "openbanking_linked",
    )

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # allowed to export: what is refused below is the field, not the export
        (cls.user | cls.manager).groups_id |= cls.env.ref("base.group_allow_export")

    def test_stored_fields_refused_to_non_system_users(self):
        self.grant(self.user, "manage")
        self.grant(self.manager, "manage")
        for user in (self.user, self.manager):
            account = self.linked.with_user(user)
            for fname in self.RAW_FIELDS:
                with self.subTest(user=user.login, fname=fname):
                    self.assertFieldRefused(account, fname, False)
        self.assertTrue(self.bridge_state()["bridge_account_ref"])
        # system users read them
        self.assertEqual(
            self.linked.with_user(self.admin).bridge_item_ref, str(self.item["id"])
        )

    def test_shown_only_with_consult(self):
        account_ref = str(self.bridge_account["id"])
        item_ref = str(self.item["id"])
        empty = {
            "openbanking_account_ref": False,
            "openbanking_item_ref": False,
            "openbanking_link_date": False,
            "openbanking_signatory_id": False,
            "openbanking_linked": False,
        }
        for user in (self.user, self.manager):
            account = self.linked.with_user(user)
            Account = account.browse()
            with self.subTest(user=user.login):
                values = account.read(list(self.SHOWN_FIELDS))[0]
                self.assertEqual({k: values[k] for k in empty}, empty)
                self.assertFalse(
                    Account.search_read(
                        [("id", "=", self.linked.id)], list(self.SHOWN_FIELDS)
                    )[0]["openbanking_account_ref"]
                )
                self.assertFalse(
                    account.web_read({"openbanking_account_ref": {}})[0][
                        "openbanking_account_ref"
                    ]
                )
                # a search tells nothing either: the account reads as unlinked
                self.assertFalse(
                    Account.search([("openbanking_account_ref", "=", account_ref)])
                )
                self.assertFalse(
                    Account.search([("openbanking_item_ref", "ilike", item_ref)])
                )
                self.assertNotIn(
                    self.linked, Account.search([("openbanking_linked", "=", True)])
                )
                self.assertIn(
                    self.linked, Account.search([("openbanking_linked", "=", False)])
                )
                self.assertIn(
                    self.linked,
                    Account.search([("openbanking_account_ref", "=", False)]),
                )
                self.assertEqual(
                    account.export_data(["acc_number", "openbanking_account_ref"])[
                        "datas"
                    ],
                    [[self.linked.acc_number, ""]],
                )
        self.grant(self.user, "consult")
        account = self.linked.with_user(self.user)
        Account = account.browse()
        values = account.read(list(self.SHOWN_FIELDS))[0]
        self.assertEqual(values["openbanking_account_ref"], account_ref)
        self.assertEqual(values["openbanking_item_ref"], item_ref)
        self.assertTrue(values["openbanking_link_date"])
        self.assertEqual(values["openbanking_signatory_id"][0], self.signatory.id)
        self.assertTrue(values["openbanking_linked"])
        self.assertEqual(
            Account.search([("openbanking_account_ref", "=", account_ref)]),
            self.linked,
        )
        self.assertEqual(
            Account.search([("openbanking_item_ref", "ilike", item_ref)]), self.linked
        )
        self.assertIn(self.linked, Account.search([("openbanking_linked", "=", True)]))
        self.assertNotIn(
            self.linked, Account.search([("openbanking_linked", "!=", True)])
        )
        # the manager still reads nothing: no authorization of their own
        self.assertFalse(self.linked.with_user(self.manager).openbanking_account_ref)
