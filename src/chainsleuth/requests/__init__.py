"""Law-enforcement requests: intake, verification, workflow, notifications."""
