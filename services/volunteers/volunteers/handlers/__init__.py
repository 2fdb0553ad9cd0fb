"""Volunteers use cases: plain functions of a context and a command, one module per concept —
``teams`` (teams and their members), ``volunteers`` (registration, the roster, personal data
read in clear and re-encrypted), ``imports`` (a spreadsheet's batches), ``activities``
(activities, enrolment and the waitlist), ``hours`` (service hours, statements, reports).

Each loads what it needs (locking the rows it changes), asks the domain, and leaves the changes
in the unit of work; the service's ``UseCases`` wrapper commits — state and outbox rows
together. Who-is-who questions (is this host a host unit, is it in the actor's subtree) are
answered by the service's directory copy, kept from registry events (see ``Context``).

Lock order, everywhere: activity, then enrolment; volunteer, then service hours entry.
"""
