"""Funding's use cases, one module per concept: each is ``use_case(ctx, command)`` (see
``kit.usecase``), run by the service in one unit of work.

- ``sources``: create, adjust, read and list sources; what projects asks of one;
- ``adjustments``: large adjustments confirmed or refused by a second finance officer;
- ``commitments``: an award commits money, a project that ends releases the rest; reads;
- ``disbursements``: an accepted milestone opens one; approve, reject, pay; reads;
- ``payees``: the registry's word on a payee holds or releases its disbursements;
- ``journal``: the journal and the monthly report, under the journal's own scope rule.

Locks are taken in one order everywhere — disbursement, then commitment, then source — so two
requests racing for the same money serialise instead of deadlocking, and the loser finds the
state the winner left (a 409 that says why). An adjustment is locked before its source.
"""
