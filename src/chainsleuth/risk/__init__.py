"""Risk: typology detectors and the machine-learned illicit probability (see docs/risk.md)."""
