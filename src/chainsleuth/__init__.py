"""chainsleuth: an investigations platform for crypto-exchange financial-crime teams."""

__version__ = "0.1.0"
