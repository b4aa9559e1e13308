"""Logins: Argon2 password hashes, expiring sessions and API tokens, CSRF tokens, throttling, roles.

* Passwords: Argon2id (``argon2-cffi`` defaults); at least 10 characters.
* A login creates a random token (256 bits); only its SHA-256 is stored. Page sessions (cookie) end
  ``idle_minutes`` after the last request and at most ``max_hours`` after login; API tokens (sent as
  ``Authorization: Bearer``) after ``token_hours``. Logging out ends them at once.
* Each page session has its own CSRF token, required in every form a page posts.
* After ``throttle_failures`` failed logins for one e-mail address or from one client address within
  ``throttle_minutes``, logins are refused until the window has passed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from ketasim.clinic.audit import Actor
from ketasim.clinic.db import ClinicError, Database, utcnow
from ketasim.clinic.models import ROLES, LoginAttempt, LoginSession, User
from ketasim.clinic.settings import ServerConfig

MIN_PASSWORD = 10
TOUCH_EVERY = dt.timedelta(minutes=1)  # a session's last-seen time is written at most once a minute
_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so that a wrong address takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ClinicError(f"password: {len(password)} characters: allowed {MIN_PASSWORD} or more", field="password")
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    e = email.strip().lower()
    if "@" not in e or len(e) > 254 or e.startswith("@") or e.endswith("@"):
        raise ClinicError(f"email = {email!r}: allowed an e-mail address", field="email")
    return e


def create_user(db: Database, email: str, password: str, role: str, *, name: str = "",
                actor: Actor | None = None) -> User:
    if role not in ROLES:
        raise ClinicError(f"role = {role!r}: allowed {' | '.join(ROLES)}", field="role")
    if actor is not None and not actor.is_admin:
        raise ClinicError("creating users: allowed for admins only", status=403, field="role")
    email = normalise_email(email)
    hashed = hash_password(password)
    with db.write() as s:
        if s.scalar(select(User.id).where(User.email == email)) is not None:
            raise ClinicError(f"email = {email!r}: allowed an address no other user has", status=409, field="email")
        user = User(email=email, name=name.strip(), role=role, password_hash=hashed)
        s.add(user)
        s.flush()
        from ketasim.clinic import audit

        audit.record(s, actor or Actor(None, "command line", "admin", "cli"), "create", "user", user.id,
                     detail=f"role {role}")
    return user


@dataclass(frozen=True)
class Login:
    token: str
    csrf_token: str
    user: User
    expires_at: dt.datetime


def _throttled(db: Database, cfg: ServerConfig, email: str, ip: str) -> bool:
    since = utcnow() - dt.timedelta(minutes=cfg.throttle_minutes)
    with db.read() as s:
        by_email = s.scalar(select(func.count(LoginAttempt.id)).where(
            LoginAttempt.email == email, LoginAttempt.at >= since, LoginAttempt.success.is_(False))) or 0
        by_ip = s.scalar(select(func.count(LoginAttempt.id)).where(
            LoginAttempt.ip == ip, LoginAttempt.at >= since, LoginAttempt.success.is_(False))) or 0
    return max(by_email, by_ip) >= cfg.throttle_failures


def login(db: Database, cfg: ServerConfig, email: str, password: str, *, ip: str, kind: str) -> Login:
    """Check the password and open a page session or an API token; :class:`ClinicError` 401 or 429 otherwise."""
    email = email.strip().lower()
    if _throttled(db, cfg, email, ip):
        raise ClinicError(f"too many failed logins: try again in {cfg.throttle_minutes} minutes", status=429,
                          field="email")
    with db.read() as s:
        user = s.scalar(select(User).where(User.email == email))
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password) and user is not None and user.active
    now = utcnow()
    with db.write() as s:
        s.add(LoginAttempt(email=email, ip=ip, at=now, success=ok))
        if not ok:
            raise_after = True
        else:
            raise_after = False
            assert user is not None
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            hours = cfg.token_hours if kind == "api" else cfg.max_hours
            expires = now + dt.timedelta(hours=hours)
            s.add(LoginSession(token_hash=token_hash(token), user_id=user.id, kind=kind, csrf_token=csrf,
                               created_at=now, last_seen_at=now, expires_at=expires))
            from ketasim.clinic import audit

            audit.record(s, Actor(user.id, user.email, user.role, kind if kind == "api" else "page"), "login",
                         "user", user.id)
    if raise_after:
        raise ClinicError("email or password: not recognised", status=401, field="password")
    assert user is not None
    return Login(token=token, csrf_token=csrf, user=user, expires_at=expires)


def session_for(db: Database, cfg: ServerConfig, token: str | None, *, kind: str) -> LoginSession | None:
    """The live session of ``token`` (of ``kind``), its last-seen time refreshed; None if unknown or expired."""
    if not token:
        return None
    now = utcnow()
    with db.read() as s:
        row = s.scalar(select(LoginSession).where(LoginSession.token_hash == token_hash(token),
                                                  LoginSession.kind == kind))
    if row is None or row.ended_at is not None or row.expires_at <= now or not row.user.active:
        return None
    if kind == "page":
        if now - row.last_seen_at > dt.timedelta(minutes=cfg.idle_minutes):
            return None
        if now - row.last_seen_at > TOUCH_EVERY:
            with db.write() as s:
                live = s.get(LoginSession, row.id)
                if live is not None:
                    live.last_seen_at = now
    return row


def end_session(db: Database, token: str | None) -> None:
    if not token:
        return
    with db.write() as s:
        row = s.scalar(select(LoginSession).where(LoginSession.token_hash == token_hash(token)))
        if row is not None and row.ended_at is None:
            row.ended_at = utcnow()


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected, given or "")


def actor_of(session: LoginSession, via: str) -> Actor:
    return Actor(session.user.id, session.user.email, session.user.role, via)
