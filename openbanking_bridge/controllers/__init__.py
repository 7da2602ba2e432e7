from . import main
from . import connect
