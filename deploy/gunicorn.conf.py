"""gunicorn settings for leadform (`gunicorn -c deploy/gunicorn.conf.py 'leadform:create_app()'`).

Values come from the environment so one file serves every instance (see docs/deploy.md):
GUNICORN_BIND (default 127.0.0.1:8001), GUNICORN_WORKERS (default 2 * cores + 1) and
GUNICORN_TIMEOUT (default 30 s). Sync workers: the booking POST is short and database-bound,
and measured tails were worse with threads on SQLite (docs/performance.md). nginx buffers slow
clients, so a sync worker is never held by a slow upload.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8001")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 2
# Restart each worker now and then, so a slow leak can never grow without bound.
max_requests = 2000
max_requests_jitter = 200

# No access log: the app logs one line per request itself (leadform/logs.py), with a request
# id and without the client address or query string. gunicorn's own lines (start, workers,
# timeouts) go to stderr as JSON too, so the journal holds one format.
accesslog = None
loglevel = "info"
logconfig_dict = {
    "root": {"level": "WARNING", "handlers": []},
    "loggers": {
        "gunicorn.error": {
            "level": "INFO",
            "handlers": ["stderr_json"],
            "propagate": False,
            "qualname": "gunicorn.error",
        },
        # A log config turns gunicorn's access log on; its lines carry the client address.
        "gunicorn.access": {
            "level": "CRITICAL",
            "handlers": [],
            "propagate": False,
            "qualname": "gunicorn.access",
        },
    },
    "handlers": {
        "stderr_json": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "formatters": {"json": {"()": "leadform.logs.JsonFormatter"}},
}
# systemd manages the instances; a control socket per user would be shared by all of them.
control_socket_disable = True
# Only nginx on this host may set X-Forwarded-*; LEADFORM_TRUSTED_PROXIES=1 tells the app.
forwarded_allow_ips = "127.0.0.1"
proc_name = "leadform"
