"""The operators' second factor: TOTP codes (pyotp) and one-time recovery codes.

An operator enrols from the desk: the secret is stored when enrolment starts and the second
factor is on once a first code from their app confirms it. Each code works once (the last
accepted time step is stored and only later steps are taken), and the check is one
conditional UPDATE, so two workers cannot both accept the same code. Recovery codes are
random, shown once and stored as SHA-256 hashes.
"""

import hashlib
import hmac
import secrets

import pyotp
import segno
from flask import current_app
from sqlalchemy import delete, func, or_, select, update

from leadform.db import db
from leadform.models import Operator, RecoveryCode, utcnow

RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32: no 0/O or 1/l to confuse
RECOVERY_GROUPS = 4  # of four characters: 80 random bits per code
TOTP_DRIFT_STEPS = 1  # accept the previous and the next 30-second code for clock drift


class TwoFactorError(Exception):
    """A second-factor step cannot be done; the message says why."""


class WrongCode(TwoFactorError):
    """The code is not the current one, was used already, or is not a recovery code."""

    def __init__(self):
        super().__init__("That code is not right, or it was used already. Try the next one.")


def is_required() -> bool:
    """Whether every operator must have a second factor (on in production)."""
    return bool(current_app.config["ADMIN_TOTP_REQUIRED"])


def is_enabled(operator: Operator) -> bool:
    """Whether `operator` confirmed a second factor, so sign-in asks for a code."""
    return operator.totp_enabled_at is not None


def start_enrolment(operator: Operator) -> str:
    """Return the secret to enrol (a new one unless enrolment already started); commits."""
    if is_enabled(operator):
        raise TwoFactorError("The second factor is on already.")
    if not operator.totp_secret:
        operator.totp_secret = pyotp.random_base32()
        db.session.commit()
    return operator.totp_secret


def provisioning_uri(operator: Operator) -> str:
    """The otpauth:// URI an authenticator app reads (issuer: the firm's name)."""
    issuer = current_app.config["SITE"]["firm"]["name"]
    return pyotp.TOTP(operator.totp_secret).provisioning_uri(
        name=operator.username, issuer_name=issuer
    )


def qr_data_uri(uri: str) -> str:
    """The URI as a QR code: an SVG data: URI for an <img> (the CSP allows data: images)."""
    return segno.make(uri, error="m").svg_data_uri(scale=4, border=2)


def confirm_enrolment(operator: Operator, code: str, now: float) -> list[str]:
    """Turn the second factor on if `code` fits the pending secret; return recovery codes.

    Raises WrongCode otherwise. `now` is epoch seconds. Commits.
    """
    if is_enabled(operator) or not operator.totp_secret:
        raise TwoFactorError("Start the enrolment again from the account page.")
    if not accept_totp(operator, code, now):
        raise WrongCode()
    operator.totp_enabled_at = utcnow()
    return issue_recovery_codes(operator)


def accept_totp(operator: Operator, code: str, now: float) -> bool:
    """Whether `code` is a TOTP code of `operator` not used before; records it (commits)."""
    counter = _matching_counter(operator.totp_secret, _digits(code), now)
    if counter is None:
        return False
    claimed = db.session.execute(
        update(Operator)
        .where(
            Operator.id == operator.id,
            or_(Operator.totp_last_counter.is_(None), Operator.totp_last_counter < counter),
        )
        .values(totp_last_counter=counter)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(operator)
    return claimed.rowcount == 1


def _digits(code: str) -> str:
    """The code without the spaces people type in the middle of it."""
    return "".join((code or "").split())


def _matching_counter(secret: str | None, code: str, now: float) -> int | None:
    """The time step within the allowed drift whose code is `code`, or None."""
    if not secret or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(int(now))
    for counter in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None


def issue_recovery_codes(operator: Operator) -> list[str]:
    """Replace `operator`'s recovery codes with new ones; return them in clear (commits)."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.operator_id == operator.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(
        RecoveryCode(operator_id=operator.id, code_hash=_recovery_hash(code)) for code in codes
    )
    db.session.commit()
    return codes


def _new_recovery_code() -> str:
    """A code like "k7qa-m2xe-tj4n-p5wd"."""
    chars = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(4 * RECOVERY_GROUPS))
    return "-".join(chars[i : i + 4] for i in range(0, len(chars), 4))


def _recovery_hash(code: str) -> str:
    """SHA-256 of the code without case, spaces or dashes.

    A fast hash is enough here: the codes carry 80 random bits, unlike a person's password.
    """
    normalised = "".join(char for char in code.lower() if char.isalnum())
    return hashlib.sha256(normalised.encode()).hexdigest()


def use_recovery_code(operator: Operator, code: str) -> bool:
    """Whether `code` is an unused recovery code of `operator`; marks it used (commits)."""
    used = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.operator_id == operator.id,
            RecoveryCode.code_hash == _recovery_hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return used.rowcount == 1


def check_code(operator: Operator, code: str, now: float) -> None:
    """Accept a TOTP code or a recovery code of `operator`; raise WrongCode otherwise."""
    if _digits(code).isdigit():
        accepted = accept_totp(operator, code, now)
    else:
        accepted = use_recovery_code(operator, code)
    if not accepted:
        raise WrongCode()


def recovery_codes_left(operator: Operator) -> int:
    """How many of `operator`'s recovery codes are still unused."""
    return db.session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.operator_id == operator.id, RecoveryCode.used_at.is_(None))
    )


def reset(operator: Operator) -> None:
    """Remove `operator`'s second factor and recovery codes (a lost device); commits."""
    operator.totp_secret = None
    operator.totp_enabled_at = None
    operator.totp_last_counter = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.operator_id == operator.id))
    db.session.commit()
