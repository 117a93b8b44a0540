"""The `flask operators` commands: create, list and disable the accounts of the desk.

Passwords never appear on the command line (it lands in shell history and `ps`): they are
read from a hidden, confirmed prompt or, for scripts, from standard input.
"""

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from leadform.db import db
from leadform.desk.auth import WeakPassword, hash_password, normalise_username
from leadform.models import Operator

USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


class OperatorError(click.ClickException):
    """An operator command cannot do what was asked; the message says why."""


def _valid_username(username: str) -> str:
    """Return the normalised username, or raise OperatorError explaining what is allowed."""
    name = normalise_username(username)
    if not name or len(name) > 64 or not set(name) <= USERNAME_CHARS:
        raise OperatorError(
            "A username is 1 to 64 characters of a-z, 0-9, dot, dash and underscore."
        )
    return name


def _read_password(from_stdin: bool) -> str:
    """The new password, from standard input (first line) or a hidden, confirmed prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def create_operator(username: str, display_name: str, password: str) -> Operator:
    """Store a new active operator with a hashed password; commits."""
    name = _valid_username(username)
    if db.session.scalar(select(Operator).where(Operator.username == name)):
        raise OperatorError(f"An operator named {name!r} already exists.")
    try:
        password_hash = hash_password(password)
    except WeakPassword as exc:
        raise OperatorError(str(exc)) from None
    operator = Operator(
        username=name, display_name=display_name.strip(), password_hash=password_hash
    )
    db.session.add(operator)
    db.session.commit()
    return operator


def disable_operator(username: str) -> Operator:
    """Mark an operator inactive (their sessions end at their next click); commits."""
    name = normalise_username(username)
    operator = db.session.scalar(select(Operator).where(Operator.username == name))
    if operator is None:
        raise OperatorError(f"No operator is named {name!r}.")
    operator.active = False
    db.session.commit()
    return operator


# AppGroup runs each subcommand inside the app context (the database needs one).
@click.group("operators", cls=AppGroup)
def operators_cli():
    """Manage the accounts that may sign in to /admin."""


@operators_cli.command("create")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="The person's full name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_command(username: str, display_name: str, password_stdin: bool):
    """Create operator USERNAME, asking for the password."""
    operator = create_operator(username, display_name, _read_password(password_stdin))
    click.echo(f"Operator {operator.username} ({operator.display_name}) created.")


@operators_cli.command("list")
def list_command():
    """Print every operator with their state and last sign-in."""
    operators = db.session.scalars(select(Operator).order_by(Operator.username)).all()
    if not operators:
        click.echo("No operators yet: flask operators create USERNAME --name 'Full Name'")
    for operator in operators:
        state = "active" if operator.active else "disabled"
        last = (
            operator.last_login_at.isoformat(timespec="minutes")
            if operator.last_login_at
            else "never"
        )
        click.echo(f"{operator.username}\t{state}\t{operator.display_name}\tlast sign-in: {last}")


@operators_cli.command("disable")
@click.argument("username")
def disable_command(username: str):
    """Stop operator USERNAME from signing in (existing sessions end too)."""
    operator = disable_operator(username)
    click.echo(f"Operator {operator.username} disabled.")
