"""``prepare``: the part of an append that needs only the batch, done ahead of it."""

from __future__ import annotations

from chainsleuth.chain.batch import BlockRange
from chainsleuth.chain.chains import get_chain
from chainsleuth.chain.encode import prepare_with
from chainsleuth.chain.encode_account import prepare_account
from chainsleuth.chain.encode_utxo import prepare_utxo
from chainsleuth.chain.enums import ChainKind
from chainsleuth.chain.store import check_block_links
from chainsleuth.core.errors import ChainsleuthError


def prepare(batch: BlockRange) -> BlockRange:
    """Do now, for a later ``append``, the part of its work that needs only the batch
    (hashes, keys, the address dictionary's pass, ordering). Safe to call on another
    thread (a loader's reading thread) while the store appends an earlier batch. A batch
    that fails a check is left as it is: ``append`` reports the problem in its own order.
    """
    try:
        batch.validate()
        check_block_links(batch)
        kind = get_chain(batch.chain).kind
        if kind is ChainKind.UTXO:
            prepare_with(batch, "utxo", prepare_utxo)
        else:
            prepare_with(batch, "account", prepare_account)
    except ChainsleuthError:
        batch.prepared = None
        batch.linked_blocks = None
    return batch
