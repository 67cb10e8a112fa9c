"""Application actions: each owns one change, in one transaction, over the domain rules."""
