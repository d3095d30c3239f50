"""Benchmarks: wall-clock ratios within one run and instruction counts, with budgets.

Run each from the repository root as a module, e.g. ``.venv/bin/python -m bench.grpc_user``:
the root is then on ``sys.path``, so benches import ``loadkit``, ``bench._user_bench`` and the
test helpers (``tests.support``) without editing ``sys.path``.
"""
