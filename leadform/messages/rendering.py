"""Rendering email templates: one folder per kind of message under templates/email/.

Each kind has `subject.txt`, `body.txt` and `body.html`, extending the shared `base.txt` and
`base.html`. HTML bodies are autoescaped and text ones are not; a missing value is an error,
never a blank in a sent email. Every wing that sends email renders through here.
"""

from collections.abc import Mapping
from pathlib import Path

from flask import Flask, current_app
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATE_DIR = Path(__file__).parents[1] / "templates" / "email"
_ENV_KEY = "leadform.email_templates"
MAX_SUBJECT_CHARS = 150


def template_env(app: Flask) -> Environment:
    """Return the app's email Jinja environment: HTML bodies autoescaped, text ones not."""
    env = app.extensions.get(_ENV_KEY)
    if env is None:
        env = Environment(
            loader=FileSystemLoader(TEMPLATE_DIR),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        app.extensions[_ENV_KEY] = env
    return env


def single_line(text: str, limit: int = MAX_SUBJECT_CHARS) -> str:
    """Collapse all whitespace (CR, LF, U+2028...) to single spaces and cut to `limit`."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def render_email(kind: str, context: Mapping) -> tuple[str, str, str]:
    """Render (subject, text, html) of message `kind`; the subject is one safe line."""
    env = template_env(current_app)
    subject = env.get_template(f"{kind}/subject.txt").render(context)
    text = env.get_template(f"{kind}/body.txt").render(context)
    html = env.get_template(f"{kind}/body.html").render(context)
    return single_line(subject), text.strip() + "\n", html
