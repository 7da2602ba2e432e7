# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Open Banking (Bridge)",
    "summary": "Link bank accounts to Bridge: webview, webhooks, IBAN linking",
    "version": "18.0.1.0.0",
    "category": "Accounting/Accounting",
    "website": "https://github.com/openbanking-bridge/openbanking_bridge",
    "author": "openbanking_bridge contributors",
    "maintainers": [],
    "license": "LGPL-3",
    "application": True,
    "installable": True,
    "depends": ["mail"],
    "external_dependencies": {
        "python": ["requests", "cryptography", "python-stdnum"],
    },
    "data": [
        "security/openbanking_security.xml",
        "security/ir.model.access.csv",
        "security/openbanking_rules.xml",
        "data/ir_cron.xml",
        "data/mail_activity_type_data.xml",
        "views/res_bank_views.xml",
        "views/res_partner_bank_views.xml",
        "views/openbanking_signatory_views.xml",
        "views/openbanking_web_service_views.xml",
        "views/openbanking_authorization_views.xml",
        "wizards/res_bank_webview_views.xml",
        "views/openbanking_webhook_event_views.xml",
        "views/connect_templates.xml",
        "data/ir_actions_server.xml",
        "views/menus.xml",
    ],
    "demo": [
        "demo/openbanking_demo.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "openbanking_bridge/static/tests/tours/*.js",
        ],
    },
}
