"""Notices as messages: who can be reached and how (contacts), what they say in Kazakh and
Russian (texts), the calendar invitation (ical), the sealed body (sealing), and the two ways
out: e-mail over SMTP (email) and SMS through a gateway (sms). No database and no hearing
records here beyond plain values: the notices service queues, the notice jobs deliver."""
