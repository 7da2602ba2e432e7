# The two commands of README.md. Both find Odoo 18 through ODOO_HOME
# (default /opt/odoo18, holding src/ and venv/).
.PHONY: run test

run:  ## serve the addon with demo data on http://127.0.0.1:8069
	@scripts/run

test:  ## every test and check; the last lines give the totals
	@scripts/test
