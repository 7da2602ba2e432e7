# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models
from odoo.exceptions import AccessError


class OpenbankingSecretMixin(models.AbstractModel):
    """Guard the secret fields of a model.

    The secret fields themselves are declared with ``groups="base.group_system"``,
    ``copy=False`` and ``exportable=False``: other users can neither read nor write
    them. This mixin adds what the field attributes cannot: a secret is never
    exported, not even by an administrator through RPC or through a relation, and
    a change of a logged secret posts a chatter note that names the field, never
    its value (the model must then inherit ``mail.thread``).
    """

    _name = "openbanking.secret.mixin"
    _description = "Open Banking Secret Fields"

    # names of the secret fields
    _openbanking_secret_fields = ()
    # names of the secret fields whose changes are noted in the chatter
    _openbanking_logged_secret_fields = ()

    def write(self, vals):
        changed = self._openbanking_get_changed_secrets(vals)
        res = super().write(vals)
        self._openbanking_log_secret_changes(changed)
        return res

    def _export_rows(self, fields, *, _is_toplevel_call=True):
        secrets = [
            path[0]
            for path in fields
            if path and path[0] in self._openbanking_secret_fields
        ]
        if secrets:
            raise AccessError(
                self.env._(
                    "Secret fields cannot be exported: %(fields)s.",
                    fields=", ".join(secrets),
                )
            )
        return super()._export_rows(fields, _is_toplevel_call=_is_toplevel_call)

    def _openbanking_get_changed_secrets(self, vals):
        """Return ``{record id: [field names]}`` of the logged secrets that ``vals``
        changes (compared with sudo: the writer may not read them)."""
        fnames = [
            fname for fname in self._openbanking_logged_secret_fields if fname in vals
        ]
        changed = {}
        if not fnames:
            return changed
        for record_sudo in self.sudo():
            record_changed = [
                fname
                for fname in fnames
                if (record_sudo[fname] or False) != (vals[fname] or False)
            ]
            if record_changed:
                changed[record_sudo.id] = record_changed
        return changed

    def _openbanking_log_secret_changes(self, changed):
        for record in self.filtered(lambda rec: rec.id in changed):
            for fname in changed[record.id]:
                label = self._fields[fname]._description_string(self.env)
                record.message_post(
                    body=self.env._("%(secret)s: value changed.", secret=label),
                    subtype_xmlid="mail.mt_note",
                )
