"""Volunteers rules, one module per concept:

- ``identity``: a registration's checks — the mobile phone, the resident ID number (GB 11643),
  the name, skills and consent date — and how personal data is masked;
- ``scope``: who may manage what (roles, a staff member's subtree, lines of the hierarchy);
- ``roster``: teams, volunteers as stored, memberships;
- ``activities``: activities, enrolment and the waitlist, the project an activity may name;
- ``hours``: service hours, their window and overlaps, and who may verify them;
- ``reports``: the period and figures of an hours report;
- ``importing``: one batch of a spreadsheet import — its rows parsed, de-duplicated and built.

Plain Python: no framework, no I/O. Personal data (the phone and the resident ID number) is
checked and masked here; encrypting it and hashing it for look-ups is the service's business
(``volunteers.crypto``), and nothing in this package puts a phone or an ID number into an error
message, an event or a log line.

Moments are aware UTC ``datetime``; dates (consent, birth) are calendar dates in China.
"""
