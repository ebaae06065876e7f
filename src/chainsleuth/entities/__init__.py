"""Entities: addresses clustered by common control, with the evidence of every merge."""
