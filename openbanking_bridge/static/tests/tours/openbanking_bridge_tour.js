import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

// Run in French by a plain Open Banking user (see tests/test_tour.py): from a
// bank, add a signatory; from a bank account they manage, authorize a colleague.
registry.category("web_tour.tours").add("openbanking_bridge_tour", {
    steps: () => [
        {
            content: "Open the bank",
            trigger: ".o_data_row td.o_data_cell:contains('Banque Tour Bridge')",
            run: "click",
        },
        {
            content: "Open its signatories",
            trigger: "button[name='action_open_signatories']:contains('Signataires')",
            run: "click",
        },
        {
            content: "Add a signatory",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            content: "The bank is pre-filled",
            trigger: ".o_field_widget[name='bank_id'] input:value(Banque Tour Bridge)",
        },
        {
            content: "Type the signatory's email address",
            trigger: ".o_field_widget[name='email'] input",
            run: "edit tina.signataire@example.com",
        },
        ...stepUtils.saveForm(),
        {
            content: "Go to the bank accounts",
            trigger: "[data-menu-xmlid='openbanking_bridge.res_partner_bank_menu']",
            run: "click",
        },
        {
            content: "Open the bank account",
            trigger: ".o_data_row td.o_data_cell:contains('FR76 9999 9000 0100 0123 4567 809')",
            run: "click",
        },
        {
            content: "Open its Open Banking access",
            trigger:
                "button[name='action_open_authorizations']:contains('Accès Open Banking')",
            run: "click",
        },
        {
            content: "Add an authorization",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            content: "Choose the colleague",
            trigger: ".o_selected_row .o_field_widget[name='user_id'] input",
            run: "edit Oscar",
        },
        {
            trigger: ".ui-autocomplete > li > a:contains('Oscar Tour')",
            run: "click",
        },
        {
            content: "Grant the Manage right",
            trigger: ".o_selected_row .o_field_widget[name='right'] select",
            run: 'select "manage"',
        },
        {
            content: "Save the authorization",
            trigger: ".o_list_button_save",
            run: "click",
        },
        {
            content: "The authorization is saved",
            trigger:
                ".o_data_row:not(.o_selected_row):has(td[name='user_id']:contains('Oscar Tour')) td[name='right']:contains('Gérer')",
        },
    ],
});
