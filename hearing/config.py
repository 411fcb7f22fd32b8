"""Server configuration: one dataclass with documented defaults, read from a TOML file and then
overridden by COURTROOM_* environment variables (so containers and CI need no file)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path


@dataclass
class Config:
    #: Address to listen on. Loopback by default; a court exposes it deliberately.
    host: str = "127.0.0.1"
    port: int = 8080
    #: Where the SQLite database, blobs, recordings and keys live.
    data_dir: Path = Path("./var")
    #: SQLAlchemy URL. Empty means SQLite at <data_dir>/courtroom.sqlite3.
    database_url: str = ""
    #: Base URL that invite links and QR codes point to (phones need HTTPS in production).
    public_url: str = ""
    #: TLS certificate and key (PEM); both empty means plain HTTP.
    tls_cert: str = ""
    tls_key: str = ""
    #: Staff login session lifetime, seconds (a court day plus margin).
    session_ttl_s: int = 12 * 3600
    #: Default lifetime of a participant invite, seconds.
    invite_ttl_s: int = 7 * 24 * 3600
    #: Largest JSON request body, bytes; larger answers 413.
    max_json_body: int = 256 * 1024
    #: Largest WebSocket message accepted, bytes; larger gets an error reply.
    ws_max_message: int = 64 * 1024
    #: Messages a client may send per second (burst is twice this) before being told to slow down.
    ws_rate_per_s: float = 20.0
    #: Outgoing WebSocket messages queued per client before droppable events are discarded.
    ws_send_queue: int = 512
    #: Login attempts per (address, username) within login_window_s before each further one
    #: waits login_backoff_s after the previous, doubling per attempt up to
    #: login_backoff_max_s; an address as a whole (a court's proxy) is slowed the same way only
    #: after login_address_attempts. A successful login resets its name's count.
    login_attempts: int = 5
    login_window_s: int = 300
    login_backoff_s: float = 1.0
    login_backoff_max_s: float = 60.0
    login_address_attempts: int = 50
    #: Court time zone for documents and pages.
    timezone: str = "Asia/Almaty"
    #: Transcribe hearings live (loads Whisper when the first hearing opens).
    transcribe: bool = True
    #: CTranslate2 Whisper directory; empty means the bundled base model.
    asr_model_dir: str = ""
    #: "cpu" or "cuda", and the CTranslate2 compute type ("int8", "float16", ...).
    asr_device: str = "cpu"
    asr_compute_type: str = "int8"
    #: Addresses WebRTC gathers ICE candidates on (comma-separated); empty means all interfaces.
    rtc_bind: str = ""
    #: STUN and TURN URLs (comma-separated) and the TURN REST shared secret.
    stun_urls: str = ""
    turn_urls: str = ""
    turn_secret: str = ""
    #: Seconds a dropped phone keeps its seat (same source, no second admission).
    reconnect_window_s: float = 60.0
    #: Device URL that replaces every courtroom seat's device (hardware.device_url), e.g.
    #: "file:/demo/courtroom.wav" to replay a multi-channel recording at real-time pace in a
    #: demo or a test; empty means each courtroom's own seat map decides.
    courtroom_device_override: str = ""
    #: How often the audit log's Merkle root is signed while a hearing is open (seconds);
    #: heads are also signed at every transition, version and export.
    tree_head_interval_s: float = 300.0
    #: Passphrase of the server's audit key (<data_dir>/keys/server-audit.pem), which signs
    #: the tree heads: a file holding it (preferred: a secret mounted by the service manager),
    #: or the value itself (COURTROOM_AUDIT_KEY_PASSPHRASE). Set, the PEM is encrypted with it
    #: (a plain key is encrypted on the first start) and a wrong one stops the start-up. Both
    #: empty: the PEM is unencrypted, protected only by its mode 0600, so whoever can read the
    #: data directory as the service account can sign heads over a rewritten log.
    audit_key_passphrase_file: str = ""
    audit_key_passphrase: str = ""
    #: Largest evidence file accepted, bytes (2 GiB: a long phone video).
    evidence_max_bytes: int = 2 << 30
    #: Disk space evidence uploads must leave free for the database and the recordings, bytes.
    evidence_min_free_bytes: int = 256 << 20
    #: Transcribe the sound of accepted audio/video evidence offline (loads Whisper on first use).
    transcribe_evidence: bool = True
    #: Address space of the child process that parses a submitted file, bytes.
    evidence_parse_memory_bytes: int = 512 << 20
    #: Most work a playback copy may cost: decoded pixels (width x height x frames; the
    #: default is 1.5 x a 30-minute 1080p30 phone video) and seconds of media.
    evidence_convert_max_pixels: int = int(1920 * 1080 * 30 * 1800 * 1.5)
    evidence_convert_max_duration_s: float = 4 * 3600.0

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(Path(self.data_dir) / 'courtroom.sqlite3').resolve()}"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://{self.host}:{self.port}"


def _coerce(kind: type | str, value: object) -> object:
    kind = {"int": int, "float": float, "str": str, "Path": Path, "bool": bool}.get(kind, kind) if isinstance(kind, str) else kind
    if kind is bool and isinstance(value, str):  # COURTROOM_TRANSCRIBE=0 means off
        return value.strip().lower() in ("1", "true", "yes", "on")
    if kind is Path:
        return Path(str(value))
    return kind(value)  # type: ignore[operator]


def load_config(path: str | os.PathLike | None = None, data_dir: str | None = None,
                env: dict[str, str] | None = None) -> Config:
    """File first, then COURTROOM_<FIELD> environment variables, then explicit arguments."""
    env = dict(os.environ if env is None else env)
    cfg = Config()
    names = {f.name: f for f in fields(Config)}
    dd = data_dir or env.get("COURTROOM_DATA_DIR")
    path = path or env.get("COURTROOM_CONFIG")
    if not path and dd and (Path(dd) / "courtroom.toml").is_file():
        path = Path(dd) / "courtroom.toml"
    if path:
        with open(path, "rb") as f:
            data = tomllib.load(f)
        for key, value in data.get("server", data).items():
            if key not in names:
                raise ValueError(f"unknown configuration key {key!r} in {path}")
            setattr(cfg, key, _coerce(names[key].type, value))
    for name, f in names.items():
        value = env.get(f"COURTROOM_{name.upper()}")
        if value is not None:
            setattr(cfg, name, _coerce(f.type, value))
    if dd:
        cfg.data_dir = Path(dd)
    return cfg
