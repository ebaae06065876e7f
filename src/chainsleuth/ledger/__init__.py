"""The double-entry ledger of customer funds: available and held buckets, system accounts."""
