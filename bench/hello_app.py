"""A bare Flask app answering "hello": the yardstick the booking service is compared with.

Served exactly like leadform (`gunicorn -w 2 'bench.hello_app:create_app()'`), so the ratio
of the two shows what leadform's own work costs, apart from Python, WSGI and gunicorn.
"""

from flask import Flask


def create_app() -> Flask:
    """Build the app with its single endpoint."""
    app = Flask(__name__)

    @app.get("/")
    def hello():
        """Answer with a fixed short text."""
        return "hello"

    return app
