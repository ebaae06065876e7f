"""Alerts for investigators (queue, workflow, dispositions, figures) and the watch list."""
