"""Cases: where an investigation lives (links, tasks, notes, evidence, timeline, reports)."""
