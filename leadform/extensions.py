"""Flask extensions created unbound; `create_app` attaches them to an app."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
# The client address is request.remote_addr, which ProxyFix rewrites only when
# LEADFORM_TRUSTED_PROXIES says a real proxy sits in front (a spoofed header must not count).
limiter = Limiter(key_func=get_remote_address)
