"""Ingest real chains into the chain store: Bitcoin Core, Ethereum nodes, blockchain-etl files."""
