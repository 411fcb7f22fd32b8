"""E-mail notices over SMTP (aiosmtplib): a plain-text body in the hearing's languages and,
when the hearing has a time, its iCalendar invitation as a text/calendar part. A batch goes
over one connection; the messages are built off the event loop. A permanent refusal (5xx)
is a bounce; anything else is retried."""

from __future__ import annotations

import asyncio
from email import policy
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid

import aiosmtplib

from hearing.notifications.outbound import Outcome, Outgoing

TIMEOUT_S = 30.0
#: The classic MIME classes: several times cheaper than EmailMessage for the same bytes.
WIRE = policy.compat32.clone(linesep="\r\n")


class SmtpSender:
    def __init__(self, host: str, port: int, sender: str, *, starttls: bool = True,
                 user: str = "", password: str = "") -> None:
        self.host, self.port, self.sender = host, port, sender
        self.starttls, self.user, self.password = starttls, user, password
        self.domain = sender.rsplit("@", 1)[-1] or "localhost"

    def message(self, item: Outgoing) -> Message:
        """The e-mail: UTF-8 parts in base64, so any server takes them."""
        text = MIMEText(item.text, "plain", "utf-8")
        if item.ics:
            msg: Message = MIMEMultipart("mixed")
            msg.attach(text)
            cal = MIMEText(item.ics, "calendar", "utf-8")
            cal.set_param("method", item.ics_method)
            cal.add_header("Content-Disposition", "attachment", filename="hearing.ics")
            msg.attach(cal)
        else:
            msg = text
        msg["From"] = self.sender
        msg["To"] = item.address
        msg["Subject"] = Header(item.subject, "utf-8")
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(f"notice{item.notice_id}", domain=self.domain)
        return msg

    def wire(self, item: Outgoing) -> tuple[str, bytes]:
        """The Message-ID and the bytes sent."""
        msg = self.message(item)
        return msg["Message-ID"], msg.as_bytes(policy=WIRE)

    async def send_batch(self, items: list[Outgoing]) -> list[Outcome]:
        """One outcome per item, in order."""
        wired = await asyncio.get_running_loop().run_in_executor(
            None, lambda: [self.wire(item) for item in items])
        smtp = aiosmtplib.SMTP(hostname=self.host, port=self.port, timeout=TIMEOUT_S,
                               start_tls=self.starttls)
        try:
            await smtp.connect()
            if self.user:
                await smtp.login(self.user, self.password)
        except (aiosmtplib.SMTPException, OSError) as exc:
            error = f"cannot reach the e-mail server {self.host}:{self.port}: {_reason(exc)}"
            return [Outcome(False, error=error) for _ in items]
        outcomes: list[Outcome] = []
        try:
            for item, (msg_id, data) in zip(items, wired):
                outcomes.append(await self._send(smtp, item.address, msg_id, data))
                if not smtp.is_connected:
                    lost = outcomes[-1].error or "the e-mail server closed the connection"
                    outcomes += [Outcome(False, error=lost)
                                 for _ in items[len(outcomes):]]
                    break
        finally:
            if smtp.is_connected:
                try:
                    await smtp.quit()
                except (aiosmtplib.SMTPException, OSError):
                    smtp.close()
        return outcomes

    async def _send(self, smtp: aiosmtplib.SMTP, address: str, msg_id: str,
                    data: bytes) -> Outcome:
        try:
            await smtp.sendmail(self.sender, [address], data)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            await _reset(smtp)
            return Outcome(False, permanent=all(c >= 500 for c in codes),
                           error="; ".join(f"{r.code} {r.message}" for r in exc.recipients))
        except aiosmtplib.SMTPResponseException as exc:
            await _reset(smtp)
            return Outcome(False, permanent=exc.code >= 500, error=f"{exc.code} {exc.message}")
        except (aiosmtplib.SMTPException, OSError) as exc:
            return Outcome(False, error=_reason(exc))
        return Outcome(True, provider_ref=msg_id)


async def _reset(smtp: aiosmtplib.SMTP) -> None:
    """Clear a refused transaction so the next message can use the connection."""
    if smtp.is_connected:
        try:
            await smtp.rset()
        except (aiosmtplib.SMTPException, OSError):
            smtp.close()


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
