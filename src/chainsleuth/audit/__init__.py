"""The append-only, hash-chained audit log: one helper records every state change."""
