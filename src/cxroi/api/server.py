"""``cxroi serve``: uvicorn worker processes under a supervisor that also moves the journal.

The process layout:

- **the supervisor** (the ``cxroi serve`` process) binds the socket, starts the workers
  (uvicorn's ``Multiprocess``: restarts a worker that dies, forwards SIGTERM and SIGINT) and
  runs the maintenance loop (:class:`~cxroi.service.flush.Maintenance`): moving answers into
  the store, opening cases, sending notifications. That work is pandas and DuckDB; in its own
  process it never holds up a request (a thread beside the event loop would, through the GIL).
- **each worker** serves HTTP and commits answers to the journal through its own group-commit
  writer. A worker whose supervisor is gone (``kill -9``) exits by itself within a second, so
  a restart can take the port.

On SIGTERM the workers stop taking requests and commit what is in flight; then the
supervisor runs a last flush and exits.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["log_config", "serve", "watch_parent"]

log = logging.getLogger("cxroi.service")


def log_config(access: bool) -> dict[str, Any]:
    """uvicorn's logging, plus the ``cxroi`` loggers (``cxroi.access``: one line a request)."""
    from uvicorn.config import LOGGING_CONFIG

    cfg = json.loads(json.dumps(LOGGING_CONFIG))
    cfg["loggers"]["cxroi"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    cfg["loggers"]["cxroi.access"] = {
        "handlers": ["default"],
        "level": "INFO" if access else "WARNING",
        "propagate": False,
    }
    return cfg


def watch_parent(interval: float = 0.5) -> None:
    """In a worker: exit when the supervisor that started it is gone (killed with -9)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(0)  # nothing in flight was acknowledged; the journal holds the rest

    threading.Thread(target=watch, name="cxroi-parent-watch", daemon=True).start()


def serve(
    folder: str | Path,
    *,
    host: str,
    port: int,
    workers: int = 1,
    dev: bool = False,
    rate_limit: int | None = None,
    access_log: bool = True,
) -> None:
    """Serve workspace ``folder`` until SIGTERM or SIGINT (see the module docstring).

    Raises
    ------
    CxroiError
        A setting is wrong (a default secret outside ``dev``), before anything listens.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from cxroi.api.main import ENV_DEV, ENV_RATE, ENV_SUPERVISED, ENV_WORKSPACE
    from cxroi.api.state import Service
    from cxroi.service.flush import Maintenance

    folder = Path(folder).resolve()
    service = Service(folder, dev=dev, rate_limit=rate_limit, maintenance=False)  # checks all
    os.environ.update(
        {ENV_WORKSPACE: str(folder), ENV_DEV: "1" if dev else "0", ENV_SUPERVISED: "1"}
    )
    if rate_limit is not None:
        os.environ[ENV_RATE] = str(rate_limit)
    config = uvicorn.Config(
        "cxroi.api.main:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=log_config(access_log),
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=30,
    )
    sock = config.bind_socket()
    maintenance = Maintenance(folder, service.journal, service.settings)
    maintenance.start()
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
        log.info("moving the answers still waiting into the store")
        maintenance.stop()
        log.info("stopped; %d answers waiting", service.journal.waiting())
