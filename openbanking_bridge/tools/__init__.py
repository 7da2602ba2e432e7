# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Odoo-side helpers that are not models: encryption at rest of the secrets
(crypto), waking the cron workers (cron)."""
