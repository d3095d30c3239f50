"""One GrpcUser from generated code; the host comes from --host (bad-input table)."""

from locust import constant, task

from loadkit import GrpcUser
from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc


class Demo(GrpcUser):
    wait_time = constant(0.5)
    stub_class = demo_pb2_grpc.DemoStub

    @task
    def get(self) -> None:
        self.stub.GetItem(demo_pb2.GetItemRequest(id="1"))
