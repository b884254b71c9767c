"""The generation service: `dancegen serve` (FastAPI + uvicorn) and its upload-and-watch page.

- `config`: `ServeConfig` (where, how many workers, the API key) with its `limits`, and the
  `JobOptions` a client posts; `store`: the SQLite job table that survives restarts;
- `generation`: a job as a checked `GenerationRequest`, run by a pipeline and exported by
  `export_motion` (as `dancegen generate` does); `progress`: sampling progress from the
  pipelines' own bars; `worker` / `pool`: the bounded worker processes;
- `app`: the HTTP API and its OpenAPI spec; `server`: uvicorn on a socket; `static/`: the page.

Only `config` and `store` import without the `serve` extra (`pip install 'dancegen[serve]'`).
"""

from dancegen.lazy import lazy_attributes

_EXPORTS = {
    "ServeConfig": "dancegen.serve.config",
    "LimitsConfig": "dancegen.serve.config",
    "JobOptions": "dancegen.serve.config",
    "JobStore": "dancegen.serve.store",
    "create_app": "dancegen.serve.app",
    "serve": "dancegen.serve.server",
}
__all__ = list(_EXPORTS)
__getattr__ = lazy_attributes(globals(), _EXPORTS)
