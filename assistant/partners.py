"""Publishable partner keys (as Algolia or Stripe have them) and the gate every widget request goes through.

A key (`pk_…`) is public: it sits in the partner's page. What protects it is what it is bound to: the
origins it may be used from, and its quotas per minute and per day. Keys live in a SQLite file in the data
dir (`partners.sqlite3`), shared by every API process on the same volume; quotas are counted by the `limits`
library, in memory (one process) or on a Redis server (`SEVE_RATE_LIMIT_STORAGE=redis://…`, several processes).

The gate (`Gate.check`) decides, for one request (its key, its Origin header, the server's own origin):
- no key: allowed unless keys are required (401), and, from a browser on another site, only if that site is
  in `SEVE_CORS_ORIGINS` (403);
- an unknown or revoked key: 401; a key used from an origin it is not bound to: 403;
- over a quota: 429 with the seconds to wait (`Retry-After`).
"""

from __future__ import annotations

import logging
import math
import secrets
import sqlite3
import threading
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from assistant.errors import SeveError
from assistant.i18n import t

log = logging.getLogger("seve")

KEY_PREFIX = "pk_"
DB_FILE = "partners.sqlite3"
CACHE_SECONDS = 1.0  # a key created or revoked by another process counts here within this delay


# --------------------------------------------------------------------------- errors (401, 403, 429)


class PartnerError(SeveError):
    """An error of the gate. The API lets the calling page read it (CORS) so the widget can explain it."""

    headers: dict[str, str] = {}


class KeyRequired(PartnerError):
    status_code = 401
    default_code = "key_required"


class InvalidKey(PartnerError):
    status_code = 401
    default_code = "invalid_key"


class OriginNotAllowed(PartnerError):
    status_code = 403
    default_code = "origin_not_allowed"


class QuotaExceeded(PartnerError):
    status_code = 429
    default_code = "quota_exceeded"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


# --------------------------------------------------------------------------- keys


def normalize_origin(value: str) -> str:
    """`https://Site.example/` -> `https://site.example`; a ValueError (in French) for anything that is not
    an origin (scheme and host, optionally a port, no path, no query)."""
    raw = value.strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"origine invalide : « {value} » ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"origine invalide : « {value} » (attendu http(s)://hôte[:port], par ex. "
                         "https://site.example)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"origine invalide : « {value} » (une origine n'a ni chemin, ni paramètres, "
                         "ni identifiants)")
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


@dataclass(frozen=True)
class PartnerKey:
    key: str
    name: str
    origins: tuple[str, ...]
    per_minute: int
    per_day: int
    created_at: float
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "origins": list(self.origins), "per_minute": self.per_minute,
                "per_day": self.per_day, "created_at": _iso(self.created_at),
                "revoked_at": _iso(self.revoked_at) if self.revoked_at else None, "active": self.active}


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class KeyStore:
    """The partner keys, in a SQLite file (WAL, so several processes read while one writes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=10, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS partner_keys (key TEXT PRIMARY KEY, name TEXT NOT NULL, origins TEXT NOT NULL,"
            " per_minute INTEGER NOT NULL, per_day INTEGER NOT NULL, created_at REAL NOT NULL, revoked_at REAL)")
        self._cache: dict[str, tuple[float, PartnerKey | None]] = {}
        self._origins_cache: tuple[float, frozenset[str]] = (0.0, frozenset())

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> KeyStore:
        return cls(data_dir / DB_FILE)

    def close(self) -> None:
        self._db.close()

    def create(self, name: str, origins: Iterable[str], per_minute: int, per_day: int) -> PartnerKey:
        name = name.strip()
        if not name:
            raise ValueError("le nom du partenaire est vide")
        bound = tuple(dict.fromkeys(normalize_origin(o) for o in origins))
        if not bound:
            raise ValueError("au moins une origine est nécessaire (--origin https://site.example)")
        if per_minute < 1 or per_day < 1:
            raise ValueError("les quotas doivent être des entiers positifs")
        key = PartnerKey(KEY_PREFIX + secrets.token_urlsafe(24), name, bound, per_minute, per_day, time.time())
        with self._lock:
            self._db.execute("INSERT INTO partner_keys VALUES (?, ?, ?, ?, ?, ?, NULL)",
                             (key.key, key.name, "\n".join(key.origins), key.per_minute, key.per_day,
                              key.created_at))
        self._origins_cache = (0.0, frozenset())
        return key

    def all(self, include_revoked: bool = True) -> list[PartnerKey]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM partner_keys ORDER BY created_at").fetchall()
        keys = [self._row(r) for r in rows]
        return keys if include_revoked else [k for k in keys if k.active]

    def revoke(self, key_or_name: str) -> list[PartnerKey]:
        """Revoke one key (by its value) or every active key of a partner (by its name); returns them."""
        targets = [k for k in self.all(include_revoked=False) if key_or_name in (k.key, k.name)]
        now = time.time()
        with self._lock:
            self._db.executemany("UPDATE partner_keys SET revoked_at=? WHERE key=?", [(now, k.key) for k in targets])
        self._cache.clear()
        return [PartnerKey(**{**k.__dict__, "revoked_at": now}) for k in targets]

    def get(self, key: str) -> PartnerKey | None:
        """The key if it exists and is active; read from the file at most once per CACHE_SECONDS."""
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        with self._lock:
            row = self._db.execute("SELECT * FROM partner_keys WHERE key=?", (key,)).fetchone()
        found = self._row(row) if row else None
        found = found if found is not None and found.active else None
        if len(self._cache) > 10000:
            self._cache.clear()
        self._cache[key] = (now, found)
        return found

    def known_origins(self) -> frozenset[str]:
        """Every origin some active key is bound to (cached for CACHE_SECONDS)."""
        now = time.monotonic()
        if now - self._origins_cache[0] < CACHE_SECONDS:
            return self._origins_cache[1]
        origins = frozenset(o for k in self.all(include_revoked=False) for o in k.origins)
        self._origins_cache = (now, origins)
        return origins

    @staticmethod
    def _row(row: Sequence[Any]) -> PartnerKey:
        return PartnerKey(row[0], row[1], tuple(o for o in row[2].split("\n") if o), int(row[3]), int(row[4]),
                          float(row[5]), float(row[6]) if row[6] is not None else None)


# --------------------------------------------------------------------------- quotas


class Quotas:
    """Per-key quotas (per minute and per day) counted by `limits`, in memory or on Redis."""

    def __init__(self, storage_uri: str = "memory://") -> None:
        from limits import storage, strategies

        try:
            self._storage = storage.storage_from_string(storage_uri)
        except Exception as exc:  # unknown scheme, missing driver
            raise ValueError(f"SEVE_RATE_LIMIT_STORAGE invalide : « {storage_uri} » ({exc})") from exc
        self.uri = storage_uri
        self._limiter = strategies.FixedWindowRateLimiter(self._storage)
        self._items: dict[tuple[int, str], Any] = {}
        self._warned = -math.inf

    def _item(self, amount: int, per: str) -> Any:
        from limits import RateLimitItemPerDay, RateLimitItemPerMinute

        item = self._items.get((amount, per))
        if item is None:
            item = (RateLimitItemPerMinute if per == "minute" else RateLimitItemPerDay)(amount)
            self._items[(amount, per)] = item
        return item

    def hit(self, identity: str, limits: Sequence[tuple[int, str]]) -> int:
        """Count one request; 0 if it is within every limit, else the seconds until it would be (>= 1).
        When the storage cannot be reached the request is let through (logged): quotas protect, they
        must not take the service down."""
        try:
            for amount, per in limits:
                item = self._item(amount, per)
                if not self._limiter.hit(item, identity, per):
                    reset = self._limiter.get_window_stats(item, identity, per).reset_time
                    return max(1, math.ceil(reset - time.time()))
        except Exception as exc:  # noqa: BLE001 - a Redis outage must not become an outage of Sève
            now = time.monotonic()
            if now - self._warned > 60:  # once a minute, not once per request
                self._warned = now
                log.warning("rate limit storage unavailable (%s): requests let through", exc)
        return 0

    def reset(self) -> None:
        self._storage.reset()


# --------------------------------------------------------------------------- the gate


@dataclass
class Gate:
    keys: KeyStore
    quotas: Quotas
    require_key: bool = False
    open_origins: frozenset[str] = field(default_factory=frozenset)  # SEVE_CORS_ORIGINS; "*" = every site
    anonymous_per_minute: int = 0  # 0 = no quota for requests without a key

    def check(self, key: str | None, origin: str | None, own: Collection[str] = (), client: str = "",
              lang: str = "fr") -> PartnerKey | None:
        """The partner key of an allowed request (None when it came without one), or a PartnerError.
        `own` are Sève's own origins (its pages, such as /widget/, may call it without a key)."""
        origin = _origin_or_none(origin)
        if not key:
            if self.require_key:
                raise KeyRequired(t("key_required", lang))
            if origin and origin not in own and not self.origin_is_open(origin):
                raise OriginNotAllowed(t("origin_not_open", lang, origin=origin), code="origin_not_open")
            if self.anonymous_per_minute:
                self._count(f"anon:{client}", [(self.anonymous_per_minute, "minute")], lang)
            return None
        partner = self.keys.get(key)
        if partner is None:
            raise InvalidKey(t("invalid_key", lang))
        if origin and origin not in partner.origins and origin not in own:
            raise OriginNotAllowed(t("origin_not_allowed", lang, origin=origin))
        self._count(f"key:{partner.key}", [(partner.per_minute, "minute"), (partner.per_day, "day")], lang)
        return partner

    def _count(self, identity: str, limits: Sequence[tuple[int, str]], lang: str) -> None:
        wait = self.quotas.hit(identity, limits)
        if wait:
            raise QuotaExceeded(t("quota_exceeded", lang, seconds=wait), wait)

    def origin_is_open(self, origin: str) -> bool:
        return "*" in self.open_origins or origin in self.open_origins

    def may_read(self, origin: str, key: str | None) -> bool:
        """Whether a response may be shared with a page of `origin` (CORS): a site in SEVE_CORS_ORIGINS, or
        a site the request's key is bound to."""
        origin = _origin_or_none(origin) or ""
        if self.origin_is_open(origin):
            return True
        partner = self.keys.get(key) if key else None
        return partner is not None and origin in partner.origins


def _origin_or_none(value: str | None) -> str | None:
    if not value or value == "null":  # sandboxed frames and file:// pages send "null"
        return value or None
    try:
        return normalize_origin(value)
    except ValueError:
        return value.strip().lower()


def gate_from_settings(settings: Any) -> Gate:
    """The gate of a serving process: keys in DATA_DIR/partners.sqlite3, quotas where settings say."""
    opened = frozenset("*" if o == "*" else normalize_origin(o) for o in settings.cors_origin_list)
    return Gate(KeyStore.in_data_dir(settings.data_dir), Quotas(settings.rate_limit_storage),
                require_key=settings.require_key, open_origins=opened,
                anonymous_per_minute=settings.anonymous_per_minute)
