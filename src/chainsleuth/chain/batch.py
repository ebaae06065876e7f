"""A source batch: the complete data of consecutive blocks of one chain, ready to append."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from chainsleuth.chain.chains import get_chain
from chainsleuth.chain.schemas import OPTIONAL, SOURCE
from chainsleuth.core.errors import InvalidInput


@dataclass
class BlockRange:
    """Blocks ``first_height..last_height`` (inclusive) of ``chain`` with all their data.

    ``tables`` maps each table name of ``SOURCE[kind]`` to an Arrow table of that schema
    (``tokens`` may be empty: token metadata seen in this range; ``OPTIONAL`` tables,
    an account chain's ``traces``, may be left out). Addresses and hashes must
    already be canonical (``chainsleuth.chain.addresses``).
    """

    chain: str
    first_height: int
    last_height: int
    tables: dict[str, pa.Table] = field(default_factory=dict)
    #: what ``chainsleuth.chain.prepare.prepare`` derived from ``tables`` ahead of ``append``
    prepared: Any = field(default=None, repr=False, compare=False)
    #: the ``blocks`` table whose hashes and parent links were checked ahead (by ``prepare``)
    linked_blocks: pa.Table | None = field(default=None, repr=False, compare=False)

    @property
    def kind(self) -> str:
        return str(get_chain(self.chain).kind)

    def validate(self) -> None:
        """Check shape and schema; raises InvalidInput with the first problem found."""
        if self.last_height < self.first_height or self.first_height < 0:
            raise InvalidInput(
                f"invalid block range {self.first_height}..{self.last_height} for {self.chain}"
            )
        expected = SOURCE[self.kind]
        missing = sorted(set(expected) - set(self.tables) - OPTIONAL[self.kind])
        if missing:
            raise InvalidInput(f"batch for {self.chain} lacks tables: {', '.join(missing)}")
        for name, schema in expected.items():
            table = self.tables.get(name)
            if table is None:  # an optional table left out: read as empty
                continue
            if not table.schema.equals(schema, check_metadata=False):
                raise InvalidInput(
                    f"table {name} of {self.chain} does not match the canonical schema:\n"
                    f"expected {schema}\ngot {table.schema}"
                )
        heights = self.tables["blocks"].column("height").to_numpy()
        wanted = np.arange(self.first_height, self.last_height + 1, dtype=np.int64)
        if heights.shape != wanted.shape or not bool((heights == wanted).all()):
            raise InvalidInput(
                f"blocks of {self.chain} must be exactly heights "
                f"{self.first_height}..{self.last_height}, in order"
            )

    @classmethod
    def conform(
        cls, chain: str, first_height: int, last_height: int, tables: dict[str, pa.Table]
    ) -> BlockRange:
        """Build a batch, casting each table to its canonical schema (same column names)."""
        kind = str(get_chain(chain).kind)
        out: dict[str, pa.Table] = {}
        for name, schema in SOURCE[kind].items():
            table = tables.get(name)
            if table is None and name in OPTIONAL[kind]:
                continue
            if table is None:
                table = schema.empty_table()
            try:
                out[name] = table.select(schema.names).cast(schema)
            except (KeyError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise InvalidInput(f"table {name} of {chain} cannot be read: {exc}") from exc
        return cls(chain=chain, first_height=first_height, last_height=last_height, tables=out)

    def table(self, name: str) -> pa.Table:
        """A table of the batch; an ``OPTIONAL`` one left out as an empty table."""
        found = self.tables.get(name)
        return SOURCE[self.kind][name].empty_table() if found is None else found
