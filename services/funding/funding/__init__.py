"""Funding: sources, the double-entry journal, commitments and milestone-gated disbursements."""
