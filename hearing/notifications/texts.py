"""What a notice says, in the hearing's language: Kazakh, Russian, or both (Kazakh first) for
a bilingual hearing. Plain text: the e-mail body and the SMS are the same words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from hearing.models import Language, NoticeKind


@dataclass(frozen=True)
class HearingFacts:
    """What a notice tells about a hearing, as plain values."""
    case_number: str
    title: str
    scheduled_at: datetime | None
    timezone: str
    courtroom: str | None


SUBJECTS: dict[str, dict[NoticeKind, str]] = {
    "kk": {"scheduled": "Сот отырысы тағайындалды: іс № {number}",
           "rescheduled": "Сот отырысының уақыты өзгертілді: іс № {number}",
           "cancelled": "Сот отырысы болмайды: іс № {number}",
           "invited": "Сот отырысына шақыру: іс № {number}"},
    "ru": {"scheduled": "Назначено судебное заседание: дело № {number}",
           "rescheduled": "Изменено время судебного заседания: дело № {number}",
           "cancelled": "Судебное заседание отменено: дело № {number}",
           "invited": "Приглашение на судебное заседание: дело № {number}"},
}
LINES: dict[str, dict[str, str]] = {
    "kk": {"case": "Іс № {number}: {title}", "time": "Уақыты: {time} ({tz})",
           "no_time": "Уақыты кейін хабарланады", "room": "Зал: {room}",
           "link": "Отырысқа қатысу сілтемесі (тек сізге арналған): {link}",
           "cancelled": "Бұл отырыс өткізілмейді."},
    "ru": {"case": "Дело № {number}: {title}", "time": "Время: {time} ({tz})",
           "no_time": "Время будет сообщено дополнительно", "room": "Зал: {room}",
           "link": "Ссылка для участия (только для вас): {link}",
           "cancelled": "Это заседание не состоится."},
}


def languages(language: Language | str) -> list[str]:
    return ["kk", "ru"] if language == "kk+ru" else [language if language in LINES else "ru"]


def local_time(when: datetime, tz: str) -> str:
    return when.astimezone(ZoneInfo(tz)).strftime("%d.%m.%Y %H:%M")


def subject(kind: NoticeKind, language: Language | str, facts: HearingFacts) -> str:
    return " / ".join(SUBJECTS[lang][kind].format(number=facts.case_number)
                      for lang in languages(language))


def body(kind: NoticeKind, language: Language | str, facts: HearingFacts,
         link: str | None = None) -> str:
    """The notice's text; ``link`` (an invite's join link) only for "invited"."""
    parts = []
    for lang in languages(language):
        t = LINES[lang]
        lines = [SUBJECTS[lang][kind].format(number=facts.case_number),
                 t["case"].format(number=facts.case_number, title=facts.title)]
        if facts.scheduled_at is not None:
            lines.append(t["time"].format(time=local_time(facts.scheduled_at, facts.timezone),
                                          tz=facts.timezone))
        else:
            lines.append(t["no_time"])
        if facts.courtroom:
            lines.append(t["room"].format(room=facts.courtroom))
        if kind == "cancelled":
            lines.append(t["cancelled"])
        if kind == "invited" and link:
            lines.append(t["link"].format(link=link))
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"
