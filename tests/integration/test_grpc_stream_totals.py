"""A real streaming run: time-to-first-message entries show, yet every call counts once."""

from __future__ import annotations

import time

import gevent
from locust import constant, task
from locust.env import Environment

import loadkit
from loadkit import GrpcUser
from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc, types_pb2
from loadkit.stats.controller import controller_for
from loadkit.stats.hdr import TOTAL_KEY
from tests.support.targets import Target


class Streams(GrpcUser):
    abstract = True
    stub_class = demo_pb2_grpc.DemoStub
    wait_time = constant(0)

    @task
    def server_stream(self) -> None:
        for _ in self.stub.ListItems(demo_pb2.ListItemsRequest(count=3)):
            pass

    @task
    def bidi(self) -> None:
        for _ in self.stub.Chat(types_pb2.ChatMessage(text=str(i)) for i in range(3)):
            pass


def test_ttfm_entries_stay_out_of_totals(grpc_target: Target) -> None:
    user = type("StreamUser", (Streams,), {"host": grpc_target.url})
    env = Environment(user_classes=[user])
    runner = env.create_local_runner()
    loadkit.attach(env)

    def count(request_type: str) -> int:
        return sum(e.num_requests for (_name, kind), e in list(env.stats.entries.items()) if kind == request_type)

    runner.start(4, spawn_rate=4)
    deadline = time.monotonic() + 60
    try:
        while count("grpc") < 100 and time.monotonic() < deadline:
            gevent.sleep(0.05)
    finally:
        runner.quit()
    calls, ttfm = count("grpc"), count("grpc-ttfm")
    assert calls >= 100 and ttfm > 0
    assert env.stats.total.num_requests == calls
    assert controller_for(env).recorder.histogram(TOTAL_KEY).get_total_count() == calls
