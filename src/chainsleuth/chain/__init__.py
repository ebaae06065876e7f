"""Chain data: the canonical model of UTXO and account chains, and its columnar store."""
