"""Sends GenAI spans shaped like the main instrumentations' to an aicp server with the
OpenTelemetry Python SDK and its OTLP/HTTP protobuf exporter (the path real applications take).

Usage: python3 genai_spans.py ENDPOINT API_KEY
  ENDPOINT  e.g. http://127.0.0.1:3100/v1/traces
  API_KEY   sent as X-API-Key (empty: none)

The spans (fixed times, so the test can compare exact analytics):
  1. OpenTelemetry semantic conventions (gen_ai.provider.name, input/output tokens,
     cache_read.input_tokens), the feature in aicp.feature, user in user.id.
  2. OpenLLMetry style (gen_ai.system "Anthropic", prompt/completion tokens,
     cache_read_input_tokens / cache_creation_input_tokens), child of span 1.
  3. An OpenLIT-style failed call (gen_ai.usage.cost, error status with error.type).
  4. A plain HTTP span (no GenAI attributes): skipped by the server.
Prints one line per span with its hex trace and span id.
"""

import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

# 2026-01-05T10:00:00Z in nanoseconds.
T0 = 1_767_607_200_000_000_000
MS = 1_000_000


def main() -> int:
    endpoint, key = sys.argv[1], sys.argv[2]
    headers = {"X-API-Key": key} if key else {}
    exporter = OTLPSpanExporter(endpoint=endpoint, headers=headers, timeout=10)
    provider = TracerProvider(resource=Resource.create({"service.name": "py-genai"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("aicp-test")

    root = tracer.start_span("chat gpt-4o", start_time=T0)
    root.set_attributes(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 500,
            "gen_ai.usage.cache_read.input_tokens": 200,
            "aicp.feature": "py-chat",
            "user.id": "u-py",
        }
    )
    ctx = trace.set_span_in_context(root)
    child = tracer.start_span("anthropic.chat", context=ctx, start_time=T0 + 10 * MS)
    child.set_attributes(
        {
            "gen_ai.system": "Anthropic",
            "gen_ai.request.model": "claude-3-5-sonnet-20241022",
            "gen_ai.usage.prompt_tokens": 3000,
            "gen_ai.usage.completion_tokens": 250,
            "gen_ai.usage.cache_read_input_tokens": 1000,
            "gen_ai.usage.cache_creation_input_tokens": 500,
            "aicp.feature": "py-summarise",
        }
    )
    child.end(end_time=T0 + 710 * MS)
    root.end(end_time=T0 + 812 * MS)

    failed = tracer.start_span("openai.chat", start_time=T0 + 2_000 * MS)
    failed.set_attributes(
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.output_tokens": 0,
            "gen_ai.usage.cost": 0.0000015,
            "error.type": "rate_limit_exceeded",
            "aicp.feature": "py-chat",
        }
    )
    failed.set_status(Status(StatusCode.ERROR, "429 Too Many Requests"))
    failed.end(end_time=T0 + 2_052 * MS)

    plain = tracer.start_span("GET /health", start_time=T0 + 3_000 * MS)
    plain.set_attribute("http.request.method", "GET")
    plain.end(end_time=T0 + 3_001 * MS)

    for s in (root, child, failed, plain):
        c = s.get_span_context()
        print(f"{s.name}\t{c.trace_id:032x}\t{c.span_id:016x}")
    provider.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
