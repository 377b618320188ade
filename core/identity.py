"""Who made a judgment, in a form nobody else can forge.

Three kinds of user, strongest first:

* ``hf:<username>``: signed in with Hugging Face (OAuth on a Space); the server's session says so.
* ``auth:<username>``: logged in with ``--auth``; Gradio's server-side login token says so.
* ``anon:<pseudonym>``: everybody else. The server issues a random *secret* (kept in the browser's
  local storage, or returned to an API caller) signed with the server's key. The user id shown
  anywhere is a one-way pseudonym of that secret: knowing it does not help anyone to act as that
  user, and the session hash a client chooses plays no part.

The server key is shared by every replica of the app (:func:`identity_key`): ``USER_STUDIO_SECRET``
when set, else a key kept in the judgments' database, made by the first replica that starts (a store
from before replicas brings the ``<data dir>/identity.key`` it used, so its identities stay valid).
Anonymous identities survive restarts, and a token made on one replica works on all of them.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import UserError

if TYPE_CHECKING:
    from core.storage import Database

KEY_FILENAME = "identity.key"
SECRET_ENV = "USER_STUDIO_SECRET"
MIN_SECRET_CHARS = 16  # a passphrase shorter than this is guessable offline from any token
KEY_BYTES = 32
_TOKEN_RANDOM_BYTES = 18  # 144 bits: nobody guesses a live token
_TOKEN_MAC_BYTES = 16
# 12 hex characters (48 bits) tell users apart in a table; the pseudonym is an HMAC, so it reveals
# nothing about the token behind it.
_PSEUDONYM_HEX = 12


# New anonymous identities one client address may be given per window: enough for a household or a
# small office behind one address, far too few to hold a campaign (each identity holds one item).
MINTS_PER_WINDOW = 5
MINT_WINDOW_S = 3600.0
# Addresses remembered at once (a few hundred bytes each): past this, the longest-idle one is forgotten.
MINT_MAX_ADDRESSES = 10_000


class MintLimiter:
    """At most ``per_window`` new anonymous identities per client address in any ``window_s`` seconds.

    Minting must cost something: without a limit, one caller gets a fresh identity per request, and
    every rule that holds "per person" (one lease per campaign, one judgment per item) holds per request.
    Thread-safe; memory is bounded by ``max_addresses`` (the longest-idle address is forgotten first, so
    an attacker with that many addresses could reset others' counts, but no address limit stops them).
    Requests whose address is unknown (no HTTP client: the app's own calls, tests) are not limited.
    """

    def __init__(self, per_window: int = MINTS_PER_WINDOW, window_s: float = MINT_WINDOW_S, *,
                 max_addresses: int = MINT_MAX_ADDRESSES, clock: Callable[[], float] = time.monotonic) -> None:
        if per_window < 0 or window_s <= 0 or max_addresses < 1:
            raise ValueError("per_window must be >= 0, window_s > 0 and max_addresses >= 1")
        self.per_window = int(per_window)
        self.window_s = float(window_s)
        self.max_addresses = int(max_addresses)
        self.clock = clock
        self._lock = threading.Lock()
        # address -> times of its recent mints (at most per_window), least recently minting first
        self._mints: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._mints)

    def allow(self, address: str | None) -> bool:
        """Whether ``address`` may have one more new identity now; a True is counted as a mint."""
        if not address:
            return True
        now = self.clock()
        with self._lock:
            times = self._mints.get(address)
            if times is None:
                times = deque()
            while times and times[0] <= now - self.window_s:
                times.popleft()
            if len(times) >= self.per_window:
                return False
            times.append(now)
            self._mints[address] = times
            self._mints.move_to_end(address)
            while len(self._mints) > self.max_addresses:
                self._mints.popitem(last=False)
            return True


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_or_create_key(folder: str | os.PathLike[str]) -> bytes:
    """The server's identity key from ``folder/identity.key``, created (0600, atomically) if missing."""
    path = Path(folder) / KEY_FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(KEY_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
    key = path.read_bytes()
    if len(key) < KEY_BYTES:
        raise ValueError(f"identity key {path} is damaged ({len(key)} bytes); delete it to issue new identities")
    return key


def identity_key(db: Database | None, folder: str | os.PathLike[str] | None = None,
                 env: Mapping[str, str] | None = None) -> bytes:
    """The key anonymous tokens are signed with, the same on every replica.

    ``USER_STUDIO_SECRET`` (at least 16 characters) wins; else the database's ``identity`` secret, made
    once (seeded from ``folder/identity.key`` when an older single-machine store left one there); without
    a database, ``folder/identity.key`` as before.
    """
    env = os.environ if env is None else env
    secret = env.get(SECRET_ENV, "")
    if secret:
        if len(secret) < MIN_SECRET_CHARS:
            raise ValueError(f"{SECRET_ENV} has {len(secret)} characters; use at least {MIN_SECRET_CHARS} "
                             "random ones (the same on every replica)")
        return hashlib.sha256(b"user-studio identity\x00" + secret.encode("utf-8")).digest()
    if db is None:
        if folder is None:
            raise ValueError(f"no identity key: give a database, a folder or {SECRET_ENV}")
        return load_or_create_key(folder)
    from core.storage.shared import shared_secret  # SQLAlchemy is loaded only where a database is used

    old = Path(folder) / KEY_FILENAME if folder is not None else None
    initial = old.read_bytes() if old is not None and old.is_file() else None
    return shared_secret(db, "identity", KEY_BYTES, initial=initial if initial and len(initial) >= KEY_BYTES else None)


@dataclass(frozen=True)
class Identity:
    """A user as established by the server; ``token`` is set only for a newly issued anonymous identity."""

    user: str
    is_admin: bool = False
    token: str | None = None

    @property
    def kind(self) -> str:
        return self.user.split(":", 1)[0]


class IdentityIssuer:
    """Issues and checks anonymous tokens, and decides who is who (and who is an admin)."""

    def __init__(self, key: bytes, admins: Iterable[str] = (), *, mint_limiter: MintLimiter | None = None) -> None:
        if len(key) < 16:
            raise ValueError("the identity key must have at least 16 bytes")
        self._key = key
        self.admins = frozenset(a.strip() for a in admins if a and a.strip())
        self.mint_limiter = mint_limiter if mint_limiter is not None else MintLimiter()

    # -- anonymous tokens ---------------------------------------------------------------------------
    def _mac(self, purpose: str, data: bytes) -> bytes:
        return hmac.new(self._key, purpose.encode() + b"\x00" + data, hashlib.sha256).digest()

    def issue_token(self) -> str:
        """A fresh secret for a new anonymous user: random part and its signature."""
        nonce = secrets.token_bytes(_TOKEN_RANDOM_BYTES)
        return f"{_b64(nonce)}.{_b64(self._mac('token', nonce)[:_TOKEN_MAC_BYTES])}"

    def mint(self, address: str | None) -> str:
        """A new anonymous token for a caller at ``address``, or a refusal once that address has had its
        share of new identities (see :class:`MintLimiter`): the caller should reuse the token they have."""
        limiter = self.mint_limiter
        if not limiter.allow(address):
            raise UserError("identity_mint_limit", limit=limiter.per_window,
                            minutes=max(1, round(limiter.window_s / 60)))
        return self.issue_token()

    def _nonce(self, token: object) -> bytes | None:
        """The random part of a token this server issued, else None (forged, damaged or foreign)."""
        if not isinstance(token, str) or len(token) > 100 or token.count(".") != 1:
            return None
        nonce_text, mac_text = token.split(".")
        try:
            nonce, mac = _unb64(nonce_text), _unb64(mac_text)
        except (ValueError, TypeError):
            return None
        if len(nonce) != _TOKEN_RANDOM_BYTES:
            return None
        expected = self._mac("token", nonce)[:_TOKEN_MAC_BYTES]
        return nonce if hmac.compare_digest(mac, expected) else None

    def browser_state_secret(self) -> str:
        """A fixed key for the browser-side store of tokens, so stored tokens survive a restart."""
        return self._mac("browser-state", b"").hex()[:32]

    def is_valid(self, token: object) -> bool:
        return self._nonce(token) is not None

    def pseudonym(self, token: str) -> str:
        """``anon:<12 hex>``, a one-way function of a valid token."""
        nonce = self._nonce(token)
        if nonce is None:
            raise UserError("identity_foreign_token")
        return "anon:" + self._mac("user", nonce).hex()[:_PSEUDONYM_HEX]

    # -- who is calling -----------------------------------------------------------------------------
    def identify(self, *, hf_username: str | None = None, auth_username: str | None = None,
                 token: str | None = None, issue: bool = False, address: str | None = None) -> Identity:
        """The caller's identity, strongest evidence first.

        ``hf_username`` and ``auth_username`` must come from the server's own session (OAuth, the
        --auth login), never from a request parameter. Without them, a valid ``token`` gives its
        pseudonym; an empty one gives a newly issued identity when ``issue`` is set (its token is
        returned once, in :attr:`Identity.token`), at most :attr:`mint_limiter`'s share per client
        ``address``, else ValueError. A token that is present but not valid is always refused, so a typo
        never silently creates a second identity.
        """
        if hf_username:
            return Identity(f"hf:{hf_username}", is_admin=hf_username in self.admins)
        if auth_username:
            return Identity(f"auth:{auth_username}", is_admin=auth_username in self.admins)
        if token:
            return Identity(self.pseudonym(token))
        if issue:
            fresh = self.mint(address)
            return Identity(self.pseudonym(fresh), token=fresh)
        raise UserError("identity_missing")
