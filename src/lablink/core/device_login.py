"""Device logins: ``lablink login`` gets a token by a person's approval in a browser.

The flow of RFC 8628 (as ``gh auth login`` does it): the CLI asks the server to
``start`` one and gets a secret device code and a short user code; a signed-in person
opens the verification page, checks the user code and the client's label, and
approves (or denies) it; meanwhile the CLI polls with its device code and, once
approved, receives a personal token of the approver's, exactly once.

Only the sha256 of a device code is stored, and the token is created by the poll that
takes it, so no secret is ever written to the database. Logins live in the database
(``store/device_sql.py``), so any server process may start, approve or answer one.
Starting and polling need no credential: both are held to per-address rate limits.
Looking a user code up on the approval page is held too: wrong codes lock the client
address and the session that sent them (``Lockout``, as failed passwords do), so the
short user code cannot be found by guessing.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import time
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

from lablink.core.throttle import Lockout, RateLimit
from lablink.errors import InvalidInput, NotFound, TooManyRequests
from lablink.identity import Identity, NewToken, hash_secret
from lablink.store.device_sql import DeviceRow, DeviceSql

if TYPE_CHECKING:
    from lablink.core.people import People

EXPIRES_IN = 600  # seconds a login waits for its approval
INTERVAL = 2  # seconds between polls
SLOW_MARGIN = 0.5  # a poll this much early is still on time (network jitter)
TOKEN_DAYS = 90
# No vowels (no words), no 0/O, 1/I/L: read aloud or typed from a phone without doubt.
ALPHABET = "BCDFGHJKMNPQRSTVWXZ"
CODE_LENGTH = 8
MAX_DEVICE_CODE = 100
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,59}")
DEFAULT_LABEL = "cli"
FREE_GUESSES = 5  # wrong user codes from one address or session before it locks
GUESS_LOCK = 30.0  # the first lock, doubled at each further wrong code
GUESS_LOCK_CAP = 3600.0
_RESTART = "start again with `lablink login`"


class AuthorizationPending(InvalidInput):
    """Nobody has approved or denied the login yet: poll again after ``interval``."""

    code = "authorization_pending"


class SlowDown(InvalidInput):
    """Polled faster than ``interval``: wait longer between polls."""

    code = "slow_down"


class ExpiredToken(InvalidInput):
    """The device code is unknown, past its end or already used."""

    code = "expired_token"


class AccessDenied(InvalidInput):
    """The person asked to approve the login denied it."""

    code = "access_denied"


@dataclasses.dataclass(frozen=True)
class DeviceStart:
    """A login just started: ``device_code`` is the only copy there will be."""

    device_code: str
    user_code: str
    expires_in: int
    interval: int


def format_code(raw: str) -> str:
    """``BCDFGHJK`` as people read it: ``BCDF-GHJK``."""
    return f"{raw[:4]}-{raw[4:]}"


def normalize_code(text: object) -> str:
    """A typed user code in its stored form (capitals, no dash or spaces).

    Raises:
        InvalidInput: not eight letters of the code alphabet.
    """
    code = re.sub(r"[\s-]", "", text.upper()) if isinstance(text, str) else ""
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        raise InvalidInput(
            f"{str(text)[:40]!r} is not a login code",
            "type the eight letters `lablink login` printed, like BCDF-GHJK",
        )
    return code


def check_label(label: object) -> str:
    """A client's label (where it runs), as shown on the approval page.

    Raises:
        InvalidInput: not 1 to 60 letters, digits, spaces, dots, dashes or underscores.
    """
    if label is None:
        return DEFAULT_LABEL
    if not isinstance(label, str) or not LABEL.fullmatch(label):
        raise InvalidInput(
            f"client label {str(label)[:80]!r} is not valid",
            "use 1 to 60 letters, digits, spaces, dots, dashes or underscores, like laptop",
        )
    return label


class DeviceLogins:
    """Device logins over the people of one store (their clock, tokens and audit log)."""

    def __init__(
        self,
        people: People,
        starts_per_minute: float = 10.0,
        polls_per_second: float = 2.0,
        free_guesses: int = FREE_GUESSES,
    ) -> None:
        self.people = people
        self.sql = DeviceSql(people.sql.store)
        self.starts = RateLimit(starts_per_minute / 60, starts_per_minute, self._now)
        self.polls = RateLimit(polls_per_second, 30 * polls_per_second, self._now)
        self.guesses = Lockout(free_guesses, GUESS_LOCK, GUESS_LOCK_CAP, self._now)

    def _now(self) -> float:
        return self.people.clock()  # read late: tests swap the people's clock

    def start(self, label: object = None, ip: str | None = None) -> DeviceStart:
        """A new pending login for a client labelled ``label``.

        Raises:
            InvalidInput: a bad label.
            TooManyRequests: ``ip`` starts logins too often.
        """
        name = check_label(label)
        _limit(self.starts, ip, f"too many logins started from {ip}")
        now = self.people.clock()
        device_code = secrets.token_urlsafe(32)
        user_code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        values = {
            "device_hash": hash_secret(device_code),
            "user_code": user_code,
            "label": name,
            "state": "pending",
            "created_at": now,
            "expires_at": now + EXPIRES_IN,
            "ip": ip,
        }
        self.sql.add(values, now)
        return DeviceStart(device_code, format_code(user_code), EXPIRES_IN, INTERVAL)

    def pending(self, user_code: object, who: Sequence[Hashable] = ()) -> DeviceRow:
        """The login waiting for approval under ``user_code``, looked up by ``who`` (the
        keys of the client asking: its address, its session), each held to
        ``free_guesses`` wrong codes before it locks.

        Raises:
            TooManyRequests: a key of ``who`` is locked after wrong codes.
            InvalidInput: not a login code.
            NotFound: no login waits for it (a typo, or it expired or was decided).
        """
        wait = max((self.guesses.wait(key) for key in who), default=0.0)
        if wait > 0:
            raise _too_many("too many wrong login codes from this browser or address", wait)
        code = normalize_code(user_code)
        row = self.sql.pending_by_code(code, self.people.clock())
        if row is None:
            for key in who:  # only real lookups count: a malformed code finds nothing
                self.guesses.failed(key)
            raise NotFound(
                f"no login waits for code {format_code(code)}",
                "check the code; past ten minutes, " + _RESTART,
            )
        return row

    def decide(
        self,
        identity: Identity,
        user_code: object,
        approve: bool,
        ip: str | None = None,
        who: Sequence[Hashable] = (),
    ) -> DeviceRow:
        """Approve (or deny) the login under ``user_code`` as ``identity``, audited;
        ``who`` as for ``pending``.

        Raises:
            TooManyRequests: a key of ``who`` is locked after wrong codes.
            InvalidInput: not a login code.
            NotFound: no login waits for it.
        """
        row = self.pending(user_code, who)
        state = "approved" if approve else "denied"
        if not self.sql.decide(row.id, identity.user, state, self.people.clock()):
            raise NotFound(f"the login {format_code(row.user_code)} was decided meanwhile")
        action = "login.device.approve" if approve else "login.device.deny"
        detail = {"label": row.label, "code": format_code(row.user_code), "client": row.ip}
        self.people.audit(identity.user, action, f"user:{identity.user}", detail, ip)
        return row

    def poll(self, device_code: object, ip: str | None = None) -> tuple[NewToken, str]:
        """The token of an approved login, once; else why there is none yet.

        Returns:
            The new token and its user's name.

        Raises:
            InvalidInput: not a device code.
            AuthorizationPending: nobody has decided yet.
            SlowDown: polled faster than ``INTERVAL``.
            AccessDenied: the login was denied.
            ExpiredToken: unknown, past its end, or already used.
            TooManyRequests: ``ip`` polls far too often.
        """
        if not isinstance(device_code, str) or not 0 < len(device_code) <= MAX_DEVICE_CODE:
            raise InvalidInput("device_code is not a device code", "send the one you were given")
        _limit(self.polls, ip, f"too many polls from {ip}")
        row = self.sql.by_hash(hash_secret(device_code))
        now = self.people.clock()
        if row is None or row.state == "used":
            raise ExpiredToken("no login waits for this device code (unknown or used)", _RESTART)
        if row.state == "denied":
            raise AccessDenied(f"{row.user} denied this login", _RESTART + " if that was wrong")
        if row.expires_at <= now:
            raise ExpiredToken("this login expired before it was approved", _RESTART)
        if row.state == "pending":
            self.sql.polled(row.id, now)
            if row.polled_at is not None and now - row.polled_at < INTERVAL - SLOW_MARGIN:
                raise SlowDown(f"poll at most every {INTERVAL} s", "wait longer between polls")
            raise AuthorizationPending(
                f"waiting for code {format_code(row.user_code)} to be approved",
                "approve it on the verification page",
            )
        if not self.sql.take(row.id, now) or row.user is None:
            raise ExpiredToken("no login waits for this device code (unknown or used)", _RESTART)
        user = self.people.get_user(row.user)
        day = time.strftime("%Y-%m-%d", time.gmtime(now))
        new = self.people.create_token(
            row.user,
            row.user,
            f"login {row.label} {day}",
            None,
            "admin" if user.is_admin else "member",
            TOKEN_DAYS * 86400.0,
        )
        self.sql.set_token(row.id, new.token.id)
        return new, row.user


def _limit(limit: RateLimit, ip: str | None, message: str) -> None:
    wait = limit.hit(ip)
    if wait > 0:
        raise _too_many(message, wait)


def _too_many(message: str, wait: float) -> TooManyRequests:
    seconds = max(1, int(wait + 0.999))
    return TooManyRequests(message, f"try again in {seconds} s", retry_after=seconds)
