"""Jinguo's shared service kit.

Nothing in here knows about organizations, projects, money, roles or events by name: it is the
plumbing every service uses — config, the unit of work, the transactional outbox and its relay,
idempotent consumers with retries and dead letters, signed RPC, metrics and error types. What
the services say to each other (the event catalogue, the actor and its roles, the copy of the
registry's organizations) is the platform's published language, in ``language``
(``services/language``); the kit checks events against that catalogue without importing it
(``kit.catalogue``).
"""

import warnings

# nameko 2.14 is built on eventlet; its deprecation notice is known and not actionable here
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated", category=Warning)
