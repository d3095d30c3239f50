"""loadkit in Locust's web UI: who may use it (access), then its tabs and JSON routes.

- :mod:`~loadkit.web.access`: login and cross-origin checks, installed first and alone by
  :mod:`loadkit.run.plugin` (a part without its tab keeps the login);
- :mod:`~loadkit.web.tabs`: the one way to add a tab, its rows and a JSON route;
- :mod:`~loadkit.web.fleet`: the Fleet tab and ``GET /loadkit/fleet``;
- :mod:`~loadkit.web.load`: the open model's Arrival rate tab and ``GET /loadkit/load``;
- :mod:`~loadkit.web.charts`: the HDR charts tab and ``GET /loadkit/charts``.

Rendering only: the figures come from :mod:`loadkit.fleet`, :mod:`loadkit.load` and
:mod:`loadkit.stats`. This ``__init__`` imports nothing (no Flask until a UI exists).
"""
