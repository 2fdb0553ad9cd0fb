"""Funding rules, plain Python (no framework imports), one concept per module.

- ``ledger``: the double-entry journal — accounts, balanced transactions, balances;
- ``sources``: funding sources, their receipts and corrections, who may draw on them;
- ``adjustments``: large top-ups and corrections waiting for a second finance officer;
- ``commitments``: money committed to a contract, released when its project ends;
- ``disbursements``: a milestone's tranche — requested, approved, paid, held;
- ``approvals``: an approval and who may not give one (maker-checker);
- ``roles``: who does what with money;
- ``scope``: who sees which money.

Locks, where a use case takes several, are taken in one order: disbursement, then commitment,
then source (see ``funding.handlers``).
"""
