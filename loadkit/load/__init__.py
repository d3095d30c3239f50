"""How load is shaped: Locust's closed model, or loadkit's open model (arrival rate).

Closed model (Locust's own, ``-u``): each user sends, waits for the response, waits
``wait_time``, sends again — when the target stalls, users stall with it and the stall's
victims are never sent, so the percentiles hide it (coordinated omission).

Open model (``--arrival-rate`` / ``--arrival-stages``): iterations start at intended
times whatever the response times; requests of an iteration that starts late are timed
from its intended start. Pure parts: :mod:`~loadkit.load.profile` (rates, stages, due
times), :mod:`~loadkit.load.split` (the fleet split), :mod:`~loadkit.load.schedule` (one
node's iterations), :mod:`~loadkit.load.accounting` (started/late/dropped),
:mod:`~loadkit.load.settings` (options). Run time: :mod:`~loadkit.load.node` (one node's
iterations on its pool of users), one class per role behind one protocol
(:mod:`~loadkit.load.runtime`: :mod:`~loadkit.load.local`, :mod:`~loadkit.load.master`,
:mod:`~loadkit.load.worker`, sharing :mod:`~loadkit.load.base`); the web UI's tab is
:mod:`loadkit.web.load`.
"""
