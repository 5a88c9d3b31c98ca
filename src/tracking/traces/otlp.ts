import protobuf from "protobufjs";
import { invalidParameter } from "../../errors.js";

/**
 * The OTLP/HTTP trace export request (`opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest`),
 * described field by field from the OTLP specification and decoded by protobufjs.
 * Both encodings of the spec arrive here: binary protobuf and OTLP/JSON
 * (camelCase names, hex trace and span ids). Each is decoded into the same
 * plain object, so the rest of the code never sees which one came.
 */
const KEY_VALUE = { fields: { key: { type: "string", id: 1 }, value: { type: "AnyValue", id: 2 } } };
const SCHEMA = {
  nested: {
    otlp: {
      nested: {
        AnyValue: {
          oneofs: { value: { oneof: ["stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue", "bytesValue"] } },
          fields: {
            stringValue: { type: "string", id: 1 },
            boolValue: { type: "bool", id: 2 },
            intValue: { type: "int64", id: 3 },
            doubleValue: { type: "double", id: 4 },
            arrayValue: { type: "ArrayValue", id: 5 },
            kvlistValue: { type: "KeyValueList", id: 6 },
            bytesValue: { type: "bytes", id: 7 },
          },
        },
        ArrayValue: { fields: { values: { rule: "repeated", type: "AnyValue", id: 1 } } },
        KeyValueList: { fields: { values: { rule: "repeated", type: "KeyValue", id: 1 } } },
        KeyValue: KEY_VALUE,
        Resource: { fields: { attributes: { rule: "repeated", type: "KeyValue", id: 1 }, droppedAttributesCount: { type: "uint32", id: 2 } } },
        InstrumentationScope: {
          fields: {
            name: { type: "string", id: 1 },
            version: { type: "string", id: 2 },
            attributes: { rule: "repeated", type: "KeyValue", id: 3 },
            droppedAttributesCount: { type: "uint32", id: 4 },
          },
        },
        Status: { fields: { message: { type: "string", id: 2 }, code: { type: "int32", id: 3 } } },
        Event: {
          fields: {
            timeUnixNano: { type: "fixed64", id: 1 },
            name: { type: "string", id: 2 },
            attributes: { rule: "repeated", type: "KeyValue", id: 3 },
            droppedAttributesCount: { type: "uint32", id: 4 },
          },
        },
        Link: {
          fields: {
            traceId: { type: "bytes", id: 1 },
            spanId: { type: "bytes", id: 2 },
            traceState: { type: "string", id: 3 },
            attributes: { rule: "repeated", type: "KeyValue", id: 4 },
            droppedAttributesCount: { type: "uint32", id: 5 },
            flags: { type: "fixed32", id: 6 },
          },
        },
        Span: {
          fields: {
            traceId: { type: "bytes", id: 1 },
            spanId: { type: "bytes", id: 2 },
            traceState: { type: "string", id: 3 },
            parentSpanId: { type: "bytes", id: 4 },
            flags: { type: "fixed32", id: 16 },
            name: { type: "string", id: 5 },
            kind: { type: "int32", id: 6 },
            startTimeUnixNano: { type: "fixed64", id: 7 },
            endTimeUnixNano: { type: "fixed64", id: 8 },
            attributes: { rule: "repeated", type: "KeyValue", id: 9 },
            droppedAttributesCount: { type: "uint32", id: 10 },
            events: { rule: "repeated", type: "Event", id: 11 },
            droppedEventsCount: { type: "uint32", id: 12 },
            links: { rule: "repeated", type: "Link", id: 13 },
            droppedLinksCount: { type: "uint32", id: 14 },
            status: { type: "Status", id: 15 },
          },
        },
        ScopeSpans: {
          fields: {
            scope: { type: "InstrumentationScope", id: 1 },
            spans: { rule: "repeated", type: "Span", id: 2 },
            schemaUrl: { type: "string", id: 3 },
          },
        },
        ResourceSpans: {
          fields: {
            resource: { type: "Resource", id: 1 },
            scopeSpans: { rule: "repeated", type: "ScopeSpans", id: 2 },
            schemaUrl: { type: "string", id: 3 },
          },
        },
        ExportTraceServiceRequest: { fields: { resourceSpans: { rule: "repeated", type: "ResourceSpans", id: 1 } } },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(SCHEMA);
const ExportRequest = root.lookupType("otlp.ExportTraceServiceRequest");

/** An OTLP AnyValue as decoded (one key set, or none for an empty value). */
export interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
  bytesValue?: string;
}
export interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}
export interface OtlpSpan {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  startTimeUnixNano?: string;
  endTimeUnixNano?: string;
  attributes?: OtlpKeyValue[];
  events?: { timeUnixNano?: string; name?: string; attributes?: OtlpKeyValue[] }[];
  status?: { message?: string; code?: number };
}
export interface OtlpResourceSpans {
  resource?: { attributes?: OtlpKeyValue[] };
  scopeSpans?: { spans?: OtlpSpan[] }[];
}
export interface OtlpExportRequest {
  resourceSpans?: OtlpResourceSpans[];
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, bytes: String, defaults: false, oneofs: false, arrays: false };

const HEX_ID_FIELDS = ["traceId", "spanId", "parentSpanId"] as const;

const STATUS_CODES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

/**
 * OTLP/JSON writes ids as hex where protobuf's JSON mapping (and protobufjs) wants base64,
 * and may name the status code instead of numbering it.
 */
function normaliseJson(body: unknown): void {
  const resourceSpans = (body as { resourceSpans?: unknown })?.resourceSpans;
  if (!Array.isArray(resourceSpans)) return;
  for (const rs of resourceSpans) {
    for (const ss of (rs as { scopeSpans?: unknown[] })?.scopeSpans ?? []) {
      for (const span of (ss as { spans?: unknown[] })?.spans ?? []) {
        const s = span as Record<string, unknown>;
        for (const f of HEX_ID_FIELDS) {
          const v = s[f];
          if (typeof v === "string" && v !== "") {
            if (!/^[0-9a-fA-F]*$/.test(v) || v.length % 2 !== 0) throw invalidParameter("Invalid OpenTelemetry format");
            s[f] = Buffer.from(v, "hex").toString("base64");
          }
        }
        const status = s.status as { code?: unknown } | undefined;
        if (status && typeof status.code === "string") status.code = STATUS_CODES[status.code] ?? 0;
      }
    }
  }
}

/** Decodes an OTLP/HTTP trace export body; `json` selects the OTLP/JSON encoding. */
export function decodeExportRequest(body: Buffer, json: boolean): OtlpExportRequest {
  try {
    if (json) {
      const parsed: unknown = JSON.parse(body.toString("utf8"));
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
      normaliseJson(parsed);
      return ExportRequest.toObject(ExportRequest.fromObject(parsed), TO_OBJECT) as OtlpExportRequest;
    }
    return ExportRequest.toObject(ExportRequest.decode(body), TO_OBJECT) as OtlpExportRequest;
  } catch {
    throw invalidParameter("Invalid OpenTelemetry format");
  }
}

/** The (empty) ExportTraceServiceResponse: every span was accepted. */
export const EXPORT_RESPONSE = Buffer.alloc(0);

/** Encodes an OTLP export request (camelCase fields, base64 ids) as protobuf: for tests and benchmarks. */
export function encodeExportRequest(request: OtlpExportRequest): Buffer {
  return Buffer.from(ExportRequest.encode(ExportRequest.fromObject(request as Record<string, unknown>)).finish());
}
