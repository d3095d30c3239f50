"""The seam: the only code in loadkit that reads or patches Locust's internals.

loadkit plugs into Locust's public seams (events, ``register_message``, ``User``,
``init_command_line_parser``, the web UI's Flask app). A few things have no seam; they are all
in this package, one module per area of Locust, each assumption written in its module's
docstring and checked by a contract test named after it, so that a Locust upgrade that breaks
one fails that test with the name of the assumption instead of changing behaviour silently.
Every replacement is marked the one way :mod:`loadkit._locust.patch` defines.

Index of assumptions (module: what it relies on; contract tests in ``tests/unit/``):

- :mod:`~loadkit._locust.runners`: the master's worker table and its states, forgetting a
  worker, the final-report drain on ``quit``, ``RequestStats.log_request`` for facets,
  ``runner.start`` for the open model's pool size (``test_locust_runners.py``);
- :mod:`~loadkit._locust.rpc`: ``zmqrpc.Server``/``Client`` (the fleet secret's CURVE, frame
  checks), ``MasterRunner.handle_message`` (the message gate), ``Environment._create_runner``
  (``test_locust_rpc.py``);
- :mod:`~loadkit._locust.users`: the calling user's greenlet, ``events.request.fire``,
  ``catch_response``'s ``request_meta``, one task of a ``TaskSet`` (``test_locust_users.py``);
- :mod:`~loadkit._locust.web`: the web UI's blueprint, endpoints, ``after_request`` order,
  CORS and login (``test_locust_web.py``);
- :mod:`~loadkit._locust.errors`: the texts of two start-up failures (``test_locust_errors.py``);
- :mod:`~loadkit._locust.gevent`: grpcio's gevent integration, set up once;
- :mod:`~loadkit._locust.pid1`: SIGTERM before Locust's own handler exists;
- :mod:`~loadkit._locust.forked`: the children ``--processes`` forks are workers, which end on
  SIGTERM (``tests/unit/test_locust_forked.py``).

Nothing here is imported by this ``__init__``: each caller imports the area it needs, so
``import loadkit._locust.web`` does not load the master's runner code.
"""
