"""Run the service: the config from a file, flags and `key=value` overrides; uvicorn on a
socket bound here, so `--port 0` can print the port it got."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any, Callable, Iterable

from pydantic import ValidationError

from dancegen.config import apply_overrides, format_validation_error, read_config_file
from dancegen.errors import ArgumentError, MissingResourceError
from dancegen.serve.config import ServeConfig

INSTALL_HINT = "pip install 'dancegen[serve]'"


def load_serve_config(path: str | Path | None = None, overrides: Iterable[str] = (), **flags: Any) -> ServeConfig:
    """The file's settings, then the flags that were given (not None), then the overrides."""
    data = read_config_file(path) if path is not None else {}
    data.update({name: value for name, value in flags.items() if value is not None})
    data = apply_overrides(data, overrides)
    try:
        return ServeConfig.model_validate(data)
    except ValidationError as error:
        raise ArgumentError(str(path) if path is not None else "--set", f"invalid serve config: {format_validation_error(error)}") from None


def require_extra() -> None:
    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401  (FastAPI's form parser)
        import uvicorn  # noqa: F401
    except ImportError as error:
        raise MissingResourceError(f"dancegen serve needs FastAPI, uvicorn and python-multipart ({error.name} is "
                                   f"missing): {INSTALL_HINT}") from None


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ArgumentError("--port", f"cannot listen on {host}:{port} ({error.strerror})", "pick another port, or 0 for any") from None
    sock.listen(128)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def describe(info: dict[str, Any]) -> str:
    """The line `dancegen serve` prints once it is ready."""
    workers = info["workers"]
    return f"dancegen serve: {info['url']} ({workers} worker{'s' if workers != 1 else ''}, jobs in {info['data_dir']}; Ctrl+C to stop)"


def serve(config: ServeConfig, announce: Callable[[dict[str, Any]], None] = lambda info: print(describe(info)),
          access_log: bool = False) -> None:
    """Serve until SIGINT/SIGTERM; then the workers put their jobs back in the queue and stop.
    `announce` hears the URL and what `create_app` announces once the server is ready."""
    require_extra()
    import uvicorn

    from dancegen.serve.app import create_app

    logging.basicConfig(format="dancegen serve: %(message)s")
    logging.getLogger("dancegen.serve").setLevel(config.log_level.upper())
    sock = bind(config.host, config.port)
    url = url_of(sock)
    try:
        app = create_app(config, announce=lambda info: announce({"url": url, **info}))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=access_log, lifespan="on"))
        server.run(sockets=[sock])
    finally:
        sock.close()
