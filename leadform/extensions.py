"""Flask extensions created unbound; `create_app` attaches them to an app."""

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

# Storage schemes of the limits library that keep their keys in Redis.
REDIS_SCHEMES = ("redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")


class DeploymentLimiter(Limiter):
    """Flask-Limiter whose Redis keys start with the deployment's RATE_LIMIT_KEY_PREFIX.

    The prefix goes to the storage (limits' `key_prefix` option) on every `init_app`, rather
    than to Flask-Limiter's RATELIMIT_KEY_PREFIX, which the one shared Limiter object keeps
    from the first app that sets it.
    """

    def init_app(self, app: Flask) -> None:
        """Attach to `app`, its counters in Redis under the app's RATE_LIMIT_KEY_PREFIX."""
        storage_uri = app.config.get("RATELIMIT_STORAGE_URI") or "memory://"
        if storage_uri.split("://", 1)[0] in REDIS_SCHEMES:
            options = dict(app.config.get("RATELIMIT_STORAGE_OPTIONS") or {})
            options.setdefault("key_prefix", app.config["RATE_LIMIT_KEY_PREFIX"])
            app.config["RATELIMIT_STORAGE_OPTIONS"] = options
        super().init_app(app)


csrf = CSRFProtect()
# The client address is request.remote_addr, which ProxyFix rewrites only when
# LEADFORM_TRUSTED_PROXIES says a real proxy sits in front (a spoofed header must not count).
limiter = DeploymentLimiter(key_func=get_remote_address)
