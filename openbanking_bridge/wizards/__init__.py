from . import res_bank_webview
