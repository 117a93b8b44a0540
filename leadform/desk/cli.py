"""The `flask operators` commands: the desk's accounts, their sessions and second factors.

Passwords never appear on the command line (it lands in shell history and `ps`): they are
read from a hidden, confirmed prompt or, for scripts, from standard input. Every command
that takes access away (disable, set-password, reset-2fa, sign-out) ends the operator's
sessions at once.
"""

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from leadform.db import db
from leadform.desk import throttle, two_factor
from leadform.desk.auth import WeakPassword, end_sessions, hash_password, normalise_username
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


def find_operator(username: str) -> Operator:
    """The operator named `username`; raise OperatorError if there is none."""
    name = normalise_username(username)
    operator = db.session.scalar(select(Operator).where(Operator.username == name))
    if operator is None:
        raise OperatorError(f"No operator is named {name!r}.")
    return operator


def disable_operator(username: str) -> Operator:
    """Mark an operator inactive and end every session of theirs; commits."""
    operator = find_operator(username)
    operator.active = False
    end_sessions(operator.id)
    return operator


def set_password(username: str, password: str) -> Operator:
    """Give an operator a new password and end every session of theirs; commits."""
    operator = find_operator(username)
    try:
        operator.password_hash = hash_password(password)
    except WeakPassword as exc:
        raise OperatorError(str(exc)) from None
    end_sessions(operator.id)
    return operator


def reset_second_factor(username: str) -> Operator:
    """Remove an operator's second factor and recovery codes, ending their sessions."""
    operator = find_operator(username)
    two_factor.reset(operator)
    end_sessions(operator.id)
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
    """Print every operator with their state, second factor and last sign-in."""
    operators = db.session.scalars(select(Operator).order_by(Operator.username)).all()
    if not operators:
        click.echo("No operators yet: flask operators create USERNAME --name 'Full Name'")
    for operator in operators:
        state = "active" if operator.active else "disabled"
        second = "on" if two_factor.is_enabled(operator) else "off"
        last = (
            operator.last_login_at.isoformat(timespec="minutes")
            if operator.last_login_at
            else "never"
        )
        click.echo(
            f"{operator.username}\t{state}\t{operator.display_name}\t"
            f"two-factor: {second}\tlast sign-in: {last}"
        )


@operators_cli.command("disable")
@click.argument("username")
def disable_command(username: str):
    """Stop operator USERNAME from signing in (their sessions end at once)."""
    operator = disable_operator(username)
    click.echo(f"Operator {operator.username} disabled; their sessions are ended.")


@operators_cli.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def set_password_command(username: str, password_stdin: bool):
    """Give operator USERNAME a new password (their sessions end at once)."""
    operator = set_password(username, _read_password(password_stdin))
    click.echo(f"New password set for {operator.username}; their sessions are ended.")


@operators_cli.command("reset-2fa")
@click.argument("username")
def reset_second_factor_command(username: str):
    """Remove USERNAME's second factor after a lost device; they enrol again at sign-in."""
    operator = reset_second_factor(username)
    click.echo(
        f"Second factor and recovery codes of {operator.username} removed; their sessions "
        "are ended. They enrol a new device from the desk (Account) at their next sign-in."
    )


@operators_cli.command("sign-out")
@click.argument("username")
def sign_out_command(username: str):
    """End every desk session of USERNAME now (e.g. a lost laptop)."""
    operator = find_operator(username)
    ended = end_sessions(operator.id)
    click.echo(f"{ended} session{'s' if ended != 1 else ''} of {operator.username} ended.")


@operators_cli.command("unlock")
@click.argument("username")
def unlock_command(username: str):
    """Lift the lock that failed sign-ins put on USERNAME."""
    name = normalise_username(username)
    if throttle.clear_failures(name):
        click.echo(f"{name} is unlocked; the count of failed sign-ins starts again.")
    else:
        click.echo(f"{name} had no failed sign-ins to forget.")
