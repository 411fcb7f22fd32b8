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
    #: NATS server shared by the nodes of a court of several servers (e.g.
    #: nats://127.0.0.1:4222); empty means one server alone (the embedded default).
    nats_url: str = ""
    #: This node's name on the bus and in leases; empty means a random one per start of a
    #: node of several, "local" for a server alone.
    node_id: str = ""
    #: The URL other nodes send this node's clients to when it holds a hearing's live state
    #: (its media); empty means public_url, else http(s)://host:port.
    node_url: str = ""
    #: Lifetime of a node's lease on an open hearing, seconds; renewed every third of it. A
    #: dead node's hearings are taken over after at most this long.
    lease_ttl_s: float = 10.0
    #: Public URLs of the court's nodes (comma-separated), sent to clients in the hello: a
    #: phone or console whose node stops answering tries them next. Empty: a client retries
    #: only its own address (right when a load balancer in front of the nodes sends it on).
    node_urls: str = ""
    #: Names everything the court puts on NATS (letters, digits, '-' and '_'): every subject
    #: begins with "<bus_prefix>." and the JetStream streams and buckets are "<PREFIX>_..."
    #: (the durable jobs: <PREFIX>_JOBS; the asr pool: <PREFIX>_AUDIO, ...), so several
    #: courts, or test runs, share one NATS server apart. Same on all nodes and asr-workers.
    bus_prefix: str = "courtroom"
    #: A node of several: how many playback-copy jobs this node takes at once (made one at a
    #: time, in turn between their hearings; 0: this node queues jobs but does none).
    evidence_job_slots: int = 4
    #: Load limits past which this node takes no new hearing (nor another node's lease), so
    #: the hearing goes to a node with room (hearing/load.py). Hearings live here (0: no
    #: limit); bytes unread in its UDP sockets (256 KiB: about 0.3 s of two six-person video
    #: hearings as the kernel counts it, payload plus overhead; past 0.5 s ICE consent checks
    #: start to fail and phones drop); age of the oldest
    #: frame waiting to be forwarded; messages queued to its WebSocket clients and to the
    #: other nodes; how far the transcription is behind the audio; audio not yet handed to
    #: the asr-workers (asr_mode "workers"; 1 MiB: about 30 s of one source).
    load_max_hearings: int = 0
    load_max_udp_backlog_bytes: int = 256 * 1024
    load_max_forward_wait_s: float = 0.5
    load_max_hub_queued: int = 10_000
    load_max_bus_queued: int = 2_000
    load_max_asr_lag_s: float = 10.0
    load_max_asr_backlog_bytes: int = 1 << 20
    #: Court time zone for documents and pages.
    timezone: str = "Asia/Almaty"
    #: Transcribe hearings live (loads Whisper when the first hearing opens).
    transcribe: bool = True
    #: Where live audio is transcribed: "local" (this process's own scheduler, the embedded
    #: default) or "workers" (sent over NATS JetStream, nats_url, to `courtroom asr-worker`
    #: processes; the settings below are then theirs).
    asr_mode: str = "local"
    #: CTranslate2 Whisper directory; empty means the bundled base model.
    asr_model_dir: str = ""
    #: "cpu" or "cuda", and the CTranslate2 compute type ("int8", "float16", ...).
    asr_device: str = "cpu"
    asr_compute_type: str = "int8"
    #: Languages the live model writes too badly for its text to stand unreviewed: every
    #: segment in them is marked uncertain. "auto": the bundled base model's own (kk: it
    #: scores WER 0.94-1.13 on Kazakh), none for a model in asr_model_dir; else a list such
    #: as "kk" or "kk,ru", or "none".
    asr_weak_languages: str = "auto"
    #: Decode lanes of "local" transcription (asr SchedulerOptions.lanes): 2 runs two decodes
    #: side by side on two model replicas, and four people speaking at once keep their final
    #: captions within 1.2-1.4 s on two cores instead of 2.7-2.8 s (bench/asr_capacity.py); 1 is
    #: one decode at a time on every core. 0: two on a CPU of two or more cores, else one.
    asr_lanes: int = 0
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
    #: Seconds a courtroom microphone may stay silent, or carry only mains hum, while a hearing
    #: is open before the judge is told it looks dead (hardware.meters; the hum test adds up
    #: to a second).
    dead_mic_alert_s: float = 8.0
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
    #: Signatures by a certificate the signer holds (detached CMS): a folder of PEM files with
    #: the court's trust anchors (self-signed roots) and intermediates. Empty: off.
    cms_trust_dir: str = ""
    #: Whose certificate is whose: "username=SERIAL,..." binds each account to the subject
    #: serialNumber (the national ID, e.g. IIN123456789012) its certificates must carry; a
    #: certificate of anyone else, though from a trusted CA, is refused.
    cms_signers: str = ""
    #: How long a presented signing request (its time, link and QR code) may be signed, s.
    cms_request_ttl_s: int = 600
    #: The court's seal on protocol PDFs (PAdES, stenogram/pades.py): its private key, PEM
    #: (PKCS #8 or traditional; encrypted when seal_key_passphrase_file names the file holding
    #: its passphrase). With seal_cert_file (PEM: the seal's certificate, then its
    #: intermediates) every exported protocol PDF of a version that has signatures is signed by
    #: the court, so any PDF reader shows it. Empty: PDFs are not sealed.
    seal_key_file: str = ""
    seal_cert_file: str = ""
    seal_key_passphrase_file: str = ""
    #: Largest evidence file accepted, bytes (2 GiB: a long phone video).
    evidence_max_bytes: int = 2 << 30
    #: Disk space evidence uploads must leave free for the database and the recordings, bytes.
    evidence_min_free_bytes: int = 256 << 20
    #: Transcribe the sound of accepted audio/video evidence offline (loads Whisper on first use).
    transcribe_evidence: bool = True
    #: Re-transcription by a second, better model once a hearing is closed: any CTranslate2
    #: Whisper directory (empty: off), its device ("cpu", "cuda") and compute type, its beam,
    #: and whether a closed hearing's recordings are queued by themselves (else only on the
    #: secretary's request). See the README for the model and hardware Kazakh needs.
    retranscribe_model_dir: str = ""
    retranscribe_device: str = "cpu"
    retranscribe_compute_type: str = "int8"
    retranscribe_beam_size: int = 5
    #: The second model's weak languages, as asr_weak_languages ("kk" for a Whisper not
    #: fine-tuned on Kazakh).
    retranscribe_weak_languages: str = "auto"
    retranscribe_on_close: bool = True
    #: Address space of the child process that parses a submitted file, bytes.
    evidence_parse_memory_bytes: int = 512 << 20
    #: Most work a playback copy may cost: decoded pixels (width x height x frames; the
    #: default is 1.5 x a 30-minute 1080p30 phone video) and seconds of media.
    evidence_convert_max_pixels: int = int(1920 * 1080 * 30 * 1800 * 1.5)
    evidence_convert_max_duration_s: float = 4 * 3600.0
    #: Notices by e-mail: the SMTP server (empty: e-mail notices stay queued, their
    #: last_error saying why, and go out once one is configured), its port, the From address,
    #: STARTTLS (required when on), and the login (empty user: none).
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_from: str = "courtroom@localhost"
    smtp_starttls: bool = True
    smtp_user: str = ""
    smtp_password: str = ""
    #: Notices by SMS: the gateway URL notices are POSTed to as JSON, and its API key (sent in
    #: X-API-Key, never logged). Empty URL: SMS notices stay queued, like e-mail above.
    sms_url: str = ""
    sms_api_key: str = ""
    #: Shared secret of the providers' delivery reports (POST /api/notices/delivery, header
    #: X-Delivery-Secret); empty refuses every report.
    notice_report_secret: str = ""
    #: Attempts per notice before it is marked failed; the first retry waits
    #: notice_backoff_s, each next one twice as long, at most notice_backoff_max_s.
    notice_max_attempts: int = 6
    notice_backoff_s: float = 60.0
    notice_backoff_max_s: float = 3600.0
    #: Prometheus /metrics listens here, apart from the public port (port 0: no metrics;
    #: the public host and port: served on the public site, deliberately).
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    #: Log lines: "json" (one event per line), "text", or "auto" (text on a terminal).
    log_format: str = "auto"
    #: debug, info, warning or error.
    log_level: str = "info"

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(Path(self.data_dir) / 'courtroom.sqlite3').resolve()}"

    @property
    def https(self) -> bool:
        """Browsers reach the server over HTTPS (its own TLS, or a proxy's public URL)."""
        return bool(self.tls_cert) or self.public_url.lower().startswith("https://")

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
                env: dict[str, str] | None = None, problems: list[str] | None = None) -> Config:
    """File first, then COURTROOM_<FIELD> environment variables, then explicit arguments.
    With ``problems``, an unknown key or a value of the wrong type is appended to it (and
    left at its default) instead of raised, so `courtroom check-config` can name them all."""
    env = dict(os.environ if env is None else env)
    cfg = Config()
    names = {f.name: f for f in fields(Config)}
    dd = data_dir or env.get("COURTROOM_DATA_DIR")
    path = path or env.get("COURTROOM_CONFIG")
    if not path and dd and (Path(dd) / "courtroom.toml").is_file():
        path = Path(dd) / "courtroom.toml"
    if path:
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            if problems is None:
                raise
            problems.append(f"cannot read the configuration file {path}: {exc}")
            data = {}
        for key, value in data.get("server", data).items():
            if key not in names:
                _problem(problems, f"unknown configuration key {key!r} in {path}")
                continue
            _set(cfg, names[key], value, f"{key} in {path}", problems)
    for name, f in names.items():
        value = env.get(f"COURTROOM_{name.upper()}")
        if value is not None:
            _set(cfg, f, value, f"COURTROOM_{name.upper()}", problems)
    if dd:
        cfg.data_dir = Path(dd)
    return cfg


def _problem(problems: list[str] | None, message: str) -> None:
    if problems is None:
        raise ValueError(message)
    problems.append(message)


def _set(cfg: Config, f, value: object, where: str, problems: list[str] | None) -> None:  # noqa: ANN001
    try:
        setattr(cfg, f.name, _coerce(f.type, value))
    except (TypeError, ValueError):
        _problem(problems, f"{where}: {value!r} is not a valid {f.type}")


def weak_languages(value: str) -> tuple[str, ...] | None:
    """An ``*_weak_languages`` setting as ``ModelOptions.weak_languages`` (None: "auto")."""
    value = value.strip().lower()
    if value == "auto":
        return None
    if value in ("", "none"):
        return ()
    return tuple(v.strip() for v in value.split(",") if v.strip())
