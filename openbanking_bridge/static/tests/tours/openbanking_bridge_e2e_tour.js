import { browser } from "@web/core/browser/browser";
import { registry } from "@web/core/registry";

// Part 1 of the end-to-end test (see tests/test_e2e.py), run by a signatory:
// from the bank, open the webview, type the password twice, confirm. Odoo then
// opens Bridge Connect in a new tab; the tour cannot follow a tab of another
// origin, so it records the URL on the body instead, and the test drives the
// same Chromium to that page.
const PASSWORD = "e2e-Bridge-pass";

registry.category("web_tour.tours").add("openbanking_bridge_e2e_tour", {
    steps: () => [
        {
            content: "Open the bank",
            trigger: ".o_data_row td.o_data_cell:contains('Banque E2E Bridge')",
            run: "click",
        },
        {
            content: "Record the URL the webview opens, instead of opening a tab",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_open_webview']",
            run() {
                browser.open = (url) => {
                    document.body.dataset.openbankingConnectUrl = url;
                    return { closed: false };
                };
            },
        },
        {
            content: "Open webview",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_open_webview']",
            run: "click",
        },
        {
            content: "Type a password for Bridge",
            trigger: ".modal .o_field_widget[name='password'] input",
            run: `edit ${PASSWORD}`,
        },
        {
            content: "Type it again",
            trigger: ".modal .o_field_widget[name='password_confirmation'] input",
            run: `edit ${PASSWORD}`,
        },
        {
            content: "Open the webview",
            trigger: ".modal-footer button[name='action_open_webview']",
            run: "click",
        },
        {
            content: "Bridge Connect is opened",
            trigger: "body[data-openbanking-connect-url]",
        },
    ],
});
