"""The protocol model: what every court document shows, taken from a signed version.

Times of the record are hearing-clock times (HH:MM:SS since the hearing opened), the clock the
recording is indexed by, so a reader can find the moment in the recording; the opening time is
given in the court's time zone (hearing["timezone"], an IANA name; UTC when absent)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..signing import display_fingerprint
from ..version import SIGNED, StenogramVersion, signature_status

ROLE_NAMES = {
    "judge": "Судья / Судья",  # same word in both languages
    "secretary": "Секретарь / Хатшы",
    "prosecutor": "Прокурор / Прокурор",
    "plaintiff": "Истец / Талапкер",
    "defendant": "Ответчик / Жауапкер",
    "accused": "Подсудимый / Сотталушы",
    "defence": "Защитник / Қорғаушы",
    "lawyer": "Адвокат / Адвокат",
    "representative": "Представитель / Өкіл",
    "witness": "Свидетель / Куәгер",
    "expert": "Эксперт / Сарапшы",
    "interpreter": "Переводчик / Аудармашы",
    "victim": "Потерпевший / Жәбірленуші",
}

LABELS = {
    "title": "ПРОТОКОЛ СУДЕБНОГО ЗАСЕДАНИЯ\nСОТ ОТЫРЫСЫНЫҢ ХАТТАМАСЫ",
    "court": "Суд / Сот",
    "case": "Дело № / Іс №",
    "subject": "Предмет / Мәні",
    "date": "Дата / Күні",
    "opened": "Открыто / Ашылды",
    "composition": "Состав суда / Сот құрамы",
    "participants": "Участники / Қатысушылар",
    "record": "Ход судебного заседания / Сот отырысының барысы",
    "signatures": "Подписи / Қолтаңбалар",
    "version": "Версия стенограммы / Стенограмма нұсқасы",
    "redacted_copy": "Обезличенная копия версии {n} / {n}-нұсқаның иесіздендірілген көшірмесі, "
                     "SHA-256 оригинала / түпнұсқаның SHA-256 {sha256}",
    "unsigned": "НЕ ПОДПИСАНО / ҚОЛ ҚОЙЫЛМАҒАН",
    "unknown_speaker": "Неустановленный говорящий / Белгісіз сөйлеуші",
    "signer": "Подписант / Қол қоюшы",
    "signed_at": "Время подписи / Қол қойылған уақыт",
    "key": "Отпечаток ключа / Кілт ізі",
    "time": "Время / Уақыт",
    "speaker": "Говорящий / Сөйлеуші",
    "text": "Текст / Мәтін",
}

#: what a document shows for a segment the recogniser was unsure of (by the segment's
#: language): the text with a mark, or, where no usable text was heard, only the mark
UNCERTAIN_MARK = {"ru": "[распознано неуверенно]", "kk": "[сенімсіз танылды]"}
UNINTELLIGIBLE = {"ru": "[неразборчиво]", "kk": "[анық емес]"}


#: how a document marks an interpreter's speech, by the record's language and the language
#: interpreted into
INTERPRETATION_MARK = {"ru": {"kk": "[перевод на казахский]", "ru": "[перевод на русский]"},
                       "kk": {"kk": "[қазақ тіліне аударма]", "ru": "[орыс тіліне аударма]"}}


def interpreted(text: str, interpretation: str, record_language: str) -> str:
    """An interpreter's segment's text with the mark of interpretation before it."""
    if not interpretation:
        return text
    mark = INTERPRETATION_MARK[record_language].get(interpretation, f"[{interpretation}]")
    return f"{mark} {text}"


def marked_text(text: str, uncertain: str, language: str | None) -> str:
    """The text of a segment as a document prints it, with the recogniser's mark."""
    lang = "kk" if language == "kk" else "ru"
    if not text.strip():
        return UNINTELLIGIBLE[lang] if uncertain else text
    return f"{text} {UNCERTAIN_MARK[lang]}" if uncertain else text


def role_name(role: str | None, language: str | None = None) -> str:
    """Both languages ("Свидетель / Куәгер") for headings; one (``"ru"`` or ``"kk"``) for the
    record, where the label repeats on every line."""
    both = ROLE_NAMES.get(role or "", role or "")
    ru, _, kk = both.partition(" / ")
    if language == "ru":
        return ru
    if language == "kk":
        return kk or ru
    return both if kk != ru else ru


def clock(ms: int, *, millis: bool = False, sep: str = ".") -> str:
    s, rest = divmod(max(0, int(ms)), 1000)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{h:02d}:{m:02d}:{s:02d}" + (f"{sep}{rest:03d}" if millis else "")


@dataclass(frozen=True)
class Entry:
    start_ms: int
    end_ms: int
    speaker_id: str | None
    name: str
    role: str
    text: str
    language: str | None
    source_id: str
    record_language: str = "ru"
    uncertain: str = ""  # the recogniser's mark (already shown in ``text``)
    interpretation: str = ""  # an interpreter's speech: the language (marked in ``text``)
    #: or "gap": audio missing from the recording (``text`` says so); or "note": the judge's
    #: or secretary's log note, never speech (``label`` marks it, with its time)
    kind: str = "speech"

    @property
    def label(self) -> str:
        if self.kind == "note":
            return f"[{NOTE_MARK[self.record_language][self.role]} {clock(self.start_ms)}]"
        if not self.role:
            return self.name
        return f"{role_name(self.role, self.record_language)} {self.name}".strip()


@dataclass(frozen=True)
class SignatureLine:
    role: str
    name: str
    signed_at: str
    key_id: str
    algorithm: str

    @property
    def fingerprint(self) -> str:
        return display_fingerprint(self.key_id, groups=16)


@dataclass
class Protocol:
    court: str
    case_number: str
    title: str
    date: str
    opened_at: str
    timezone: str
    composition: list[tuple[str, str]]
    participants: list[tuple[str, str]]
    entries: list[Entry]
    signatures: list[SignatureLine]
    version_number: int
    version_sha256: str
    signed: bool
    hearing: dict[str, Any] = field(default_factory=dict)
    document: dict[str, Any] = field(default_factory=dict)
    signature_records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def version_lines(self) -> list[str]:
        """What the document is: the version and its hash, and for a redacted copy the
        version it was derived from (the original, sealed, by its hash)."""
        lines = [f"{LABELS['version']} {self.version_number}, SHA-256 {self.version_sha256}"]
        redacts = self.document.get("redacts")
        if isinstance(redacts, dict):
            lines.append(LABELS["redacted_copy"].format(n=redacts.get("number", "?"),
                                                        sha256=redacts.get("sha256", "?")))
        return lines


_NEWLINES = re.compile("\r\n?")
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_UNWRITABLE = re.compile("[\ud800-\udfff\ufffe\uffff]")


def shown(text: Any) -> str:
    """``text`` as every document format can carry it. Input is cleaned at the server's edge,
    but a signed version is never rewritten and may hold what came in earlier, or what a
    format still refuses: control characters (XML/DOCX refuses them; \\r becomes a line
    break) are dropped, and U+FFFE/U+FFFF (not XML characters) become U+FFFD. Only the
    rendering changes; the JSON export and the signature keep the signed text."""
    text = _NEWLINES.sub("\n", str(text))
    return _UNWRITABLE.sub("\ufffd", _INVISIBLE.sub("", text))


def _local(iso: str | None, tz: str) -> str:
    if not iso:
        return ""
    try:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
        zone = ZoneInfo(tz) if tz != "UTC" else timezone.utc
    except (ValueError, ZoneInfoNotFoundError):
        return iso
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(zone).strftime("%d.%m.%Y %H:%M:%S ") + tz


#: gaps shorter than this are in the recording's list, not printed
MIN_PRINTED_GAP_MS = 1000
GAP_TEXT = {"ru": {"muted": "[микрофон: {name} — выключен {s} с]",
                   "lost": "[аудио от {name} потеряно {s} с]"},
            "kk": {"muted": "[{name}: микрофон {s} с өшірулі болды]",
                   "lost": "[{name} аудиосы {s} с жоғалды]"}}


def gap_entries(doc: Mapping[str, Any], people: Mapping[Any, Any], lang: str) -> list[Entry]:
    """A line at the time of each gap of a finalised recording, in the record's language."""
    out = []
    for r in doc.get("recordings") or []:
        sid = str(r.get("source_id") or "")
        sid = "seat:" + sid[5:] if sid.startswith("seat.") else sid  # a seat's recorder id
        name = shown((people.get(sid) or {}).get("name") or sid)
        for g in r.get("gaps") or []:
            start, end = int(g["start_ms"]), int(g["end_ms"])
            if end - start < MIN_PRINTED_GAP_MS:
                continue
            text = GAP_TEXT[lang]["muted" if g.get("reason") == "muted" else "lost"].format(
                name=name, s=round((end - start) / 1000))
            out.append(Entry(start, end, None, "", "", text, lang, sid, lang, kind="gap"))
    return out


#: how a document marks a log note, by the record's language and the author's role
NOTE_MARK = {"ru": {"judge": "Примечание судьи", "secretary": "Примечание секретаря"},
             "kk": {"judge": "Судьяның ескертпесі", "secretary": "Хатшының ескертпесі"}}


def note_entries(doc: Mapping[str, Any], lang: str) -> list[Entry]:
    """A line at the time of each log note that no later note replaced."""
    notes = doc.get("notes") or []
    replaced = {n.get("replaces") for n in notes}
    return [Entry(int(n["at_ms"]), int(n["at_ms"]), None, shown(n.get("author") or ""),
                  "judge" if n.get("role") == "judge" else "secretary", shown(n["text"]), lang,
                  "", lang, kind="note")
            for n in notes if n.get("id") not in replaced]


def protocol_from_version(version: StenogramVersion,
                          signatures: Sequence[Mapping[str, Any]] = ()) -> Protocol:
    """The protocol of ``version``; ``signatures`` may be all of the hearing's (those of other
    versions are ignored). An unsigned version is rendered, marked as not signed."""
    doc = version.document
    h = dict(doc.get("hearing") or {})
    tz = str(h.get("timezone") or "UTC")
    lang = "kk" if h.get("language") == "kk" else "ru"  # language of the proceedings
    people = {p.get("id"): p for p in doc.get("participants") or []}
    entries = []
    for s in doc.get("segments") or []:
        p = people.get(s.get("speaker")) or {}
        uncertain = str(s.get("uncertain") or "")
        interpretation = shown(s.get("interpretation") or "")
        text = interpreted(marked_text(shown(s["text"]), uncertain, s.get("language") or lang),
                           interpretation, lang)
        entries.append(Entry(int(s["start_ms"]), int(s["end_ms"]), s.get("speaker"),
                             shown(p.get("name") or LABELS["unknown_speaker"]),
                             shown(p.get("role") or ""), text, s.get("language"),
                             shown(s.get("source_id")), lang, uncertain=uncertain,
                             interpretation=interpretation))
    entries = sorted(entries + gap_entries(doc, people, lang) + note_entries(doc, lang),
                     key=lambda e: e.start_ms)
    mine = [dict(x) for x in signatures if x["statement"]["version_sha256"] == version.sha256]
    lines = [SignatureLine(shown(x["statement"]["role"]),
                           shown(x["statement"]["signer"].get("name")),
                           _local(x["statement"]["signed_at"], tz), x["key_id"], x["algorithm"])
             for x in mine]
    return Protocol(
        court=shown(h.get("court", "")), case_number=shown(h.get("case_number", "")),
        title=shown(h.get("title", "")), date=shown(h.get("date", "")),
        opened_at=shown(_local(h.get("opened_at"), tz)), timezone=tz,
        composition=[(shown(c.get("role", "")), shown(c.get("name", "")))
                     for c in h.get("composition") or []],
        participants=[(shown(p.get("role", "")), shown(p.get("name", "")))
                      for p in doc.get("participants") or []],
        entries=entries, signatures=lines, version_number=version.number,
        version_sha256=version.sha256, signed=signature_status(version, mine) == SIGNED,
        hearing=h, document=doc, signature_records=mine)


def wall_time(p: Protocol, ms: int) -> datetime | None:
    """The UTC instant of a hearing-clock time (for readers who want the wall clock)."""
    opened = p.hearing.get("opened_at")
    if not opened:
        return None
    return datetime.fromisoformat(opened.replace("Z", "+00:00")) + timedelta(milliseconds=ms)
