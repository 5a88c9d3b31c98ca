"""Writes traces to one tracking server and prints what the mlflow client reads back, as JSON.

Run as `python trace_writer.py URL`, once per server, so that each server gets a fresh client
process (the client caches its trace exporter and the server's version per process). The same
script run against mloop and against MLflow's own server must print the same document.

Two traces are written per run:
  * one by the mlflow client itself (`@mlflow.trace` and `mlflow.start_span`), which MLflow 3.4+
    sends as OTLP spans (`log_spans`) followed by the trace info (`StartTraceV3`);
  * one by OpenTelemetry's own OTLP/HTTP exporter (protobuf), with fixed trace and span ids.
Then each is read back with `mlflow.get_trace` and the experiment is searched with
`mlflow.search_traces` under several filters.
"""

from __future__ import annotations

import json
import sys
import uuid

import mlflow
from mlflow.entities import SpanType
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Status, StatusCode

# Values that legitimately differ between two servers or two runs.
VOLATILE_TAGS = {"mlflow.artifactLocation", "service.instance.id"}
VOLATILE_ATTRIBUTES = {"mlflow.traceRequestId"}
# The client measures the serialized trace, durations included, so its size varies by a digit.
VOLATILE_METADATA = {"mlflow.trace.sizeBytes", "mlflow.trace.sizeStats"}


class FixedIds(IdGenerator):
    """Deterministic OpenTelemetry ids, so both servers receive byte-identical spans."""

    def __init__(self, trace_id: int):
        self.trace_id = trace_id
        self.next_span = 0x1000

    def generate_trace_id(self) -> int:
        return self.trace_id

    def generate_span_id(self) -> int:
        self.next_span += 1
        return self.next_span


def normalise(trace) -> dict:
    info = trace.info
    spans = sorted(trace.data.spans, key=lambda s: (s.start_time_ns, s.name))
    names = {s.span_id: s.name for s in spans}
    return {
        "state": info.state.value,
        "request_preview": info.request_preview,
        "response_preview": info.response_preview,
        "has_duration": info.execution_duration is not None,
        "experiment_id_is_str": isinstance(info.experiment_id, str),
        "tags": {k: v for k, v in sorted(info.tags.items()) if k not in VOLATILE_TAGS},
        "metadata": {k: v for k, v in sorted(info.trace_metadata.items()) if k not in VOLATILE_METADATA},
        "spans": [
            {
                "name": s.name,
                "parent": names.get(s.parent_id),
                "type": s.span_type,
                "status": [s.status.status_code.value, s.status.description],
                "inputs": s.inputs,
                "outputs": s.outputs,
                "attributes": {k: v for k, v in sorted(s.to_dict()["attributes"].items()) if k not in VOLATILE_ATTRIBUTES},
                "events": [[e.name, e.attributes] for e in s.events],
                "has_end": s.end_time_ns is not None,
            }
            for s in spans
        ],
    }


@mlflow.trace(span_type=SpanType.LLM)
def answer(question: str, temperature: float = 0.0) -> dict:
    return {"text": f"echo: {question}", "tokens": 3, "score": 1.0, "ok": True}


@mlflow.trace
def pipeline(question: str) -> str:
    with mlflow.start_span("retrieve", span_type=SpanType.RETRIEVER) as span:
        span.set_inputs({"query": question, "k": 2})
        span.set_attribute("index", "docs-v1")
        span.set_outputs([{"id": 1, "text": "héllo"}, {"id": 2, "text": None}])
    mlflow.update_current_trace(tags={"env": "prod", "team": "search"})
    return answer(question)["text"]


@mlflow.trace(name="failing")
def failing(x: int) -> int:
    raise ValueError(f"bad input {x}")


def write_otel_trace(url: str, experiment_id: str, trace_id: int) -> str:
    provider = TracerProvider(id_generator=FixedIds(trace_id), resource=Resource.create({"service.name": "compat-otel", "deployment": "ci"}))
    exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", headers={"x-mlflow-experiment-id": experiment_id})
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("compat")
    with tracer.start_as_current_span("otel-root", attributes={"mlflow.spanInputs": '{"q": "hi"}', "http.method": "GET", "retries": 2}) as root:
        with tracer.start_as_current_span("otel-child") as child:
            child.set_attribute("ratio", 0.25)
            child.set_attribute("flags", [True, False])
            child.set_attribute("labels", ["a", "b"])
            child.add_event("cache-miss", {"key": "k1", "size": 10})
            child.set_status(Status(StatusCode.ERROR, "upstream timeout"))
        root.set_attribute("mlflow.spanOutputs", '"done"')
    provider.force_flush()
    provider.shutdown()
    return f"tr-{trace_id:032x}"


def main() -> None:
    url = sys.argv[1]
    name = sys.argv[2] if len(sys.argv) > 2 else f"traces-{uuid.uuid4().hex[:8]}"
    mlflow.set_tracking_uri(url)
    experiment_id = mlflow.set_experiment(name).experiment_id

    pipeline("what is mloop?")
    first = mlflow.get_last_active_trace_id()
    try:
        failing(7)
    except ValueError:
        pass
    second = mlflow.get_last_active_trace_id()
    mlflow.flush_trace_async_logging()
    otel = write_otel_trace(url, experiment_id, int(uuid.uuid4().hex, 16))

    out = {
        "client_trace": normalise(mlflow.get_trace(first)),
        "failed_trace": normalise(mlflow.get_trace(second)),
        "otel_trace": normalise(mlflow.get_trace(otel)),
        "search": {},
    }
    for f in [
        None,
        "trace.status = 'OK'",
        "trace.status = 'ERROR'",
        "tags.env = 'prod'",
        "trace.name = 'failing'",
        "span.name = 'retrieve'",
        "span.type = 'LLM'",
        "trace.execution_time_ms >= 0",
        "tags.deployment = 'ci'",
        "span.attributes.index LIKE '%docs%'",
    ]:
        found = mlflow.search_traces(locations=[experiment_id], filter_string=f, return_type="list", order_by=["trace.timestamp_ms ASC"])
        out["search"][f or "(all)"] = [normalise(t) for t in found]
    print(json.dumps(out, sort_keys=True, indent=1, default=str))


if __name__ == "__main__":
    main()
