import { registry } from "@web/core/registry";

// From the apps menu, open the Open Banking app: it lands on the banks of type
// Open Banking (see tests/test_tour.py).
registry.category("web_tour.tours").add("openbanking_bridge_menu_tour", {
    steps: () => [
        {
            content: "Open the apps menu",
            trigger: ".o_navbar_apps_menu button:enabled",
            run: "click",
        },
        {
            content: "Open the Open Banking app",
            trigger: ".o_app[data-menu-xmlid='openbanking_bridge.openbanking_menu_root']",
            run: "click",
        },
        {
            content: "The app opens on the banks",
            trigger: ".o_breadcrumb .active:contains('Banks')",
        },
        {
            content: "Its menu offers banks, bank accounts and signatories",
            trigger:
                ".o_main_navbar [data-menu-xmlid='openbanking_bridge.openbanking_signatory_menu']",
        },
        {
            content: "The Open Banking bank is listed",
            trigger: ".o_data_row td.o_data_cell:contains('Banque Tour Bridge')",
        },
        {
            content: "A standard bank is not, by default",
            trigger: ".o_list_renderer:not(:contains('Banque Tour Standard'))",
        },
    ],
});
