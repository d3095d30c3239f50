"""The bundled HTTP target: a FastAPI app with items CRUD, login, faults, counters and metrics.

Start it with ``loadkit target http`` or from Python::

    import uvicorn
    from loadkit.targets.http import create_app

    uvicorn.run(create_app(), port=8080)
"""

from loadkit.targets.http.app import create_app
from loadkit.targets.http.server import run

__all__ = ["create_app", "run"]
