"""Jinguo's shared service kit.

Nothing in here knows about organizations, projects or money: it is the plumbing every
service copies — config, the unit of work, the transactional outbox and its relay, idempotent
consumers, the event catalogue (the platform's published language), metrics and error types.
"""

import warnings

# nameko 2.14 is built on eventlet; its deprecation notice is known and not actionable here
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated", category=Warning)
