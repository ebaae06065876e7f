"""Tracing and exposure: the flow graph, taint models, path search, exposure per category."""
