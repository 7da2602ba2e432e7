from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestInstall(TransactionCase):
    def test_groups_and_menu(self):
        manager = self.env.ref("openbanking_bridge.group_openbanking_manager")
        user = self.env.ref("openbanking_bridge.group_openbanking_user")
        self.assertIn(user, manager.implied_ids)
        self.assertEqual(manager.full_name, "Open Banking / Manager")
        menu = self.env.ref("openbanking_bridge.openbanking_menu_root")
        self.assertEqual(menu.groups_id, user)
