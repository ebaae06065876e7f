"""Ingest for the rest of chainsleuth: sources built from the settings, one sync call.

Other domains use it as ``from chainsleuth.ingest import service as ingest_service``.
"""

from __future__ import annotations

from pathlib import Path

from chainsleuth.alerts import watch as watch_service
from chainsleuth.chain import service as chain_service
from chainsleuth.chain.chains import CHAINS
from chainsleuth.core.config import Settings
from chainsleuth.core.errors import InvalidInput
from chainsleuth.ingest import status as sync_status
from chainsleuth.ingest.bitcoin import BitcoinCoreSource
from chainsleuth.ingest.ethereum import EthereumSource
from chainsleuth.ingest.etl import EtlSource
from chainsleuth.ingest.follow import Source, Syncer, SyncOptions, SyncReport
from chainsleuth.ingest.progress import SyncProgress
from chainsleuth.ingest.rpc import Credentials, RpcClient


def _client(
    settings: Settings, url: str, credentials: Credentials | None, **kw: object
) -> RpcClient:
    return RpcClient(
        url,
        credentials=credentials,
        timeout_s=settings.rpc_timeout_s,
        retries=settings.rpc_retries,
        concurrency=settings.rpc_concurrency,
        batch_size=settings.rpc_batch_size,
        **kw,  # type: ignore[arg-type]
    )


def btc_credentials(settings: Settings) -> Credentials | None:
    """From the cookie file if one is set, else user and password from the settings."""
    if settings.btc_rpc_cookie_file is not None:
        return Credentials.from_cookie_file(settings.btc_rpc_cookie_file)
    if settings.btc_rpc_user or settings.btc_rpc_password:
        password = settings.btc_rpc_password.get_secret_value() if settings.btc_rpc_password else ""
        return Credentials(settings.btc_rpc_user or "", password)
    return None


def btc_source(settings: Settings, url: str | None) -> BitcoinCoreSource:
    url = url or settings.btc_rpc_url
    if not url:
        raise InvalidInput("give the node URL or set CHAINSLEUTH_BTC_RPC_URL")
    client = _client(settings, url, btc_credentials(settings))
    return BitcoinCoreSource(client)


def eth_source(settings: Settings, url: str | None) -> EthereumSource:
    if url is None and settings.eth_rpc_url is not None:
        url = settings.eth_rpc_url.get_secret_value()
    if not url:
        raise InvalidInput("give the node URL or set CHAINSLEUTH_ETH_RPC_URL")
    credentials = None
    if settings.eth_rpc_user or settings.eth_rpc_password:
        password = settings.eth_rpc_password.get_secret_value() if settings.eth_rpc_password else ""
        credentials = Credentials(settings.eth_rpc_user or "", password)
    source = EthereumSource(_client(settings, url, credentials))
    if settings.eth_rpc_url is not None and url == settings.eth_rpc_url.get_secret_value():
        source.label = "the Ethereum node of CHAINSLEUTH_ETH_RPC_URL"  # keep the key out of logs
    return source


def etl_source(chain: str, path: Path) -> EtlSource:
    return EtlSource(chain, path)


def sync(
    settings: Settings,
    source: Source,
    options: SyncOptions,
    *,
    progress: SyncProgress | None = None,
) -> SyncReport:
    """Load ``source`` into the settings' chain store (see ``chainsleuth.ingest.follow``)."""
    if options.on_append is None:  # the watch list sees each stored batch
        options.on_append = watch_service.after_append(settings)
    try:
        with chain_service.open_store(settings) as store:
            return Syncer(store, source, options, progress=progress).run()
    finally:
        client = getattr(source, "client", None)
        if isinstance(client, RpcClient):
            client.close()


def statuses(settings: Settings) -> list[sync_status.SyncStatus]:
    """Each chain's last recorded sync status."""
    root = chain_service.store_root(settings)
    return [sync_status.load(root, chain) for chain in CHAINS]
