"""Projects rules: a project from draft to close, its applications, its contract and milestones.

Plain Python: no framework, no I/O. Every transition is checked against a state machine and
an action not allowed from the current state raises ``InvalidTransition`` naming that state.
Entities record the events they cause; the unit of work writes them to the outbox.

Money is integer fen. Dates are ``datetime.date``; moments are aware UTC ``datetime``.

One module per concept:

- ``scope``: who may see and change what (roles, ``Scope``, what everybody reads);
- ``project``: the project and its state machine, its period, indicators and funding source;
- ``application``: a provider's application, and which providers may apply;
- ``contract``: the contract, its milestones and their reports;
- ``award``: the award and its milestone schedule;
- ``payments``: the commitment and the disbursements, as funding reports them;
- ``evaluation``: the evaluation's scores;
- ``delivery``: the delivery report and the contract brief finance reads.
"""

from projects.domain.scope import readable_by_everyone

# the gateway's read cache asks this of a project (``gateway.routes.projects``)
__all__ = ["readable_by_everyone"]
