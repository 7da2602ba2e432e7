from . import openbanking_secret_mixin
from . import res_bank
from . import res_partner
from . import res_partner_bank
from . import openbanking_signatory
from . import openbanking_web_service
from . import openbanking_authorization
from . import openbanking_webhook_event
