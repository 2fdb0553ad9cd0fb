"""Jinguo's published language: what the services say to each other and about who acts.

- ``language.events`` — the event catalogue: every event type, who publishes it, its schema;
- ``language.actor`` — the roles and the actor a call is made for (``SYSTEM``: a service acting
  for itself);
- ``language.directory`` — a service's own copy of the registry's organizations, kept from the
  registry's events.

It is not the kit: the kit (``services/kit``) is plumbing that knows no event, role or
organization. The kit validates events with the catalogue without importing it: importing this
package registers ``language.events`` with ``kit.catalogue``. (Not named ``contracts``: a
contract, 合同, is what a federation awards a service provider.)
"""

from kit import catalogue as _catalogue
from language import events as _events

_catalogue.register(_events)
