from . import test_install
from . import test_res_bank
from . import test_web_service
from . import test_signatory
from . import test_authorization
from . import test_translations
from . import test_tour
from . import test_webview
