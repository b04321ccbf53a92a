"""santong.adapters.client — the platform client: batching, store-and-forward queue, delivery, commands.

Imports grpc lazily (through the transport), so ``import santong.adapters`` stays light.
"""

from santong.adapters.client._client import (
    ClientFailed,
    ClientStats,
    ConfigureHandler,
    PlatformClient,
    WriteHandler,
)
from santong.adapters.client._queue import (
    UPLOAD_METHODS,
    AliasConflict,
    DeadLetter,
    QueuedUpload,
    QueueLocked,
    UploadQueue,
    stamp,
)
from santong.adapters.client._retry import RETRYABLE_GRPC, RETRYABLE_HTTP, Backoff, Disposition, disposition
from santong.adapters.client._transport import (
    CallError,
    CommandHandler,
    GrpcTransport,
    HttpTransport,
    Transport,
)

__all__ = [
    "RETRYABLE_GRPC",
    "RETRYABLE_HTTP",
    "UPLOAD_METHODS",
    "AliasConflict",
    "Backoff",
    "CallError",
    "ClientFailed",
    "ClientStats",
    "CommandHandler",
    "ConfigureHandler",
    "DeadLetter",
    "Disposition",
    "GrpcTransport",
    "HttpTransport",
    "PlatformClient",
    "QueueLocked",
    "QueuedUpload",
    "Transport",
    "UploadQueue",
    "WriteHandler",
    "disposition",
    "stamp",
]
