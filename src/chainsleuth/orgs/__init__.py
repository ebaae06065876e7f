"""Agencies (law enforcement, FIUs) and partner organisations: the tenants of chainsleuth."""
