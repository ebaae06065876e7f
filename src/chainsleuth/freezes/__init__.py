"""Freezes: holds on customer funds with a legal basis, four-eyes approvals and seizures."""
