"""A minimal OTLP/HTTP logs receiver on 127.0.0.1 that records what it is sent."""

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.local_server import ThreadedServer


class LogReceiver:
    """Serve POST /v1/logs; keep every log record; fail the first ``fail_first`` requests."""

    def __init__(self, fail_first: int = 0) -> None:
        self.records: list[LogRecord] = []
        self.headers: list[dict[str, str]] = []
        self.fail_first = fail_first
        self.requests = 0
        app = Starlette(routes=[Route("/v1/logs", self._logs, methods=["POST"])])
        self._server = ThreadedServer(app)
        self.url = f"http://127.0.0.1:{self._server.port}"

    def start(self) -> "LogReceiver":
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    async def _logs(self, request: Request) -> Response:
        self.requests += 1
        self.headers.append(dict(request.headers))
        if self.requests <= self.fail_first:
            # Retryable in OTLP: the exporter must send the same records again.
            return Response(status_code=503, headers={"Retry-After": "0"})
        export = ExportLogsServiceRequest.FromString(await request.body())
        for resource_logs in export.resource_logs:
            for scope_logs in resource_logs.scope_logs:
                self.records.extend(scope_logs.log_records)
        return Response(
            ExportLogsServiceResponse().SerializeToString(),
            media_type="application/x-protobuf",
        )
