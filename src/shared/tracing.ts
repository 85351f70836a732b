import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer as OtelTracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, RandomIdGenerator, type IdGenerator } from '@opentelemetry/sdk-trace-base';
import { ATTR_ERROR_TYPE, ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { IncomingHttpHeaders } from 'node:http';
import type { Clock } from './clock.js';
import type { ObservabilityConfig } from './config.js';
import { isStratusError } from './errors.js';
import { headerValue } from './http.js';

export { SpanKind } from '@opentelemetry/api';
export type { Attributes } from '@opentelemetry/api';
export {
  ATTR_CLOUD_ACCOUNT_ID, ATTR_CLOUD_RESOURCE_ID, ATTR_FAAS_COLDSTART, ATTR_FAAS_INVOCATION_ID, ATTR_FAAS_MAX_MEMORY, ATTR_FAAS_NAME, ATTR_FAAS_VERSION,
} from '@opentelemetry/semantic-conventions/incubating';

/**
 * Spans of the invoke path, exported with OpenTelemetry's SDK over OTLP/HTTP when an endpoint is
 * configured. Each process has its own `BasicTracerProvider` (never registered globally), handed
 * to the components that trace as a `Tracer`; a span's parent is given explicitly, as a W3C
 * `traceparent` string, the form in which it also crosses the internal APIs between processes.
 * Without an endpoint every component gets `NO_TRACER`, whose spans cost nothing and propagate
 * nothing.
 */
export interface Tracer {
  readonly enabled: boolean;
  /** A span under `parent` (a W3C traceparent); without one, the root of a new trace (its id `options.traceId` if valid). */
  start(name: string, parent: string | undefined, options?: SpanOptions): TraceSpan;
  /** A span that ends now and lasted `durationMs` (something measured elsewhere, e.g. a function's init). */
  record(name: string, parent: string | undefined, durationMs: number, attributes?: Attributes): void;
  /** Exports what is buffered and stops (bounded: a collector that does not answer does not hold up a stop). */
  shutdown(): Promise<void>;
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** For a root span: its trace id (32 lowercase hex, not all zero), e.g. from an X-Ray trace's Root. */
  traceId?: string;
}

export interface TraceSpan {
  /** This span as a W3C traceparent, the parent of what it calls (undefined: not tracing). */
  readonly traceparent: string | undefined;
  set(attributes: Attributes): void;
  rename(name: string): void;
  /** Marks the span failed: `error.type` is a Stratus error code (or `errorType`), the status ERROR. */
  fail(err: unknown, errorType?: string): void;
  end(): void;
}

/** Stratus's own span attributes (the FaaS and cloud ones come from the semantic conventions). */
export const ATTR = {
  invocationType: 'stratus.invocation_type',
  environmentId: 'stratus.environment.id',
  workerId: 'stratus.worker.id',
  warm: 'stratus.assignment.warm',
  queued: 'stratus.assignment.queued',
  startKind: 'stratus.start_kind',
  initType: 'stratus.init_type',
  initDurationMs: 'stratus.init_duration_ms',
  durationMs: 'stratus.duration_ms',
  functionError: 'stratus.function_error',
} as const;

const NO_SPAN: TraceSpan = Object.freeze({ traceparent: undefined, set: () => {}, rename: () => {}, fail: () => {}, end: () => {} });

/** Tracing off: nothing is recorded, nothing propagated. */
export const NO_TRACER: Tracer = Object.freeze({
  enabled: false,
  start: () => NO_SPAN,
  record: () => {},
  shutdown: () => Promise.resolve(),
});

/** How long a stop waits for the last spans to be exported. */
const SHUTDOWN_WAIT_MS = 5000;

/** The process's tracer: an OTLP/HTTP exporter behind a batch processor, or NO_TRACER without an endpoint. */
export function createTracer(config: ObservabilityConfig, process: { role: string; instanceId: string; clock: Clock }): Tracer {
  const url = config.otlpTracesEndpoint;
  if (url === undefined) return NO_TRACER;
  return new OtlpTracer(url, process);
}

/**
 * Trace ids of root spans: random, except when the caller of `start` chose one (the X-Ray Root
 * of an invoke). The choice is made and consumed within one synchronous `startSpan`.
 */
class ChosenTraceIds implements IdGenerator {
  chosen: string | undefined;
  private readonly random = new RandomIdGenerator();
  generateTraceId = (): string => this.chosen ?? this.random.generateTraceId();
  generateSpanId = (): string => this.random.generateSpanId();
}

class OtlpTracer implements Tracer {
  readonly enabled = true;
  private readonly provider: BasicTracerProvider;
  private readonly tracer: OtelTracer;
  private readonly ids = new ChosenTraceIds();
  private readonly propagator = new W3CTraceContextPropagator();
  private readonly clock: Clock;

  constructor(url: string, opts: { role: string; instanceId: string; clock: Clock }) {
    this.clock = opts.clock;
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'stratus', [ATTR_SERVICE_INSTANCE_ID]: opts.instanceId, 'stratus.role': opts.role }),
      sampler: new AlwaysOnSampler(),
      idGenerator: this.ids,
      // Attribute values are Stratus's own, but some name what a tenant chose (a function name): bounded anyway.
      spanLimits: { attributeValueLengthLimit: 1024, attributeCountLimit: 32, eventCountLimit: 0, linkCountLimit: 0 },
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
    });
    this.tracer = this.provider.getTracer('stratus');
  }

  start(name: string, parent: string | undefined, options: SpanOptions = {}): TraceSpan {
    const context = this.contextOf(parent);
    const root = trace.getSpanContext(context) === undefined;
    this.ids.chosen = root && options.traceId !== undefined && isTraceId(options.traceId) ? options.traceId : undefined;
    try {
      return this.wrap(this.tracer.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, context));
    } finally {
      this.ids.chosen = undefined;
    }
  }

  record(name: string, parent: string | undefined, durationMs: number, attributes?: Attributes): void {
    // Performance timestamps (the SDK's own time base), so the span lines up with its parent.
    const end = performance.now();
    this.tracer.startSpan(name, { attributes, startTime: end - Math.max(0, durationMs) }, this.contextOf(parent)).end(end);
  }

  async shutdown(): Promise<void> {
    let timer: { cancel(): void } | undefined;
    const waited = new Promise<void>((resolve) => (timer = this.clock.setTimer(SHUTDOWN_WAIT_MS, resolve)));
    await Promise.race([this.provider.shutdown().catch(() => undefined), waited]);
    timer?.cancel();
  }

  private contextOf(parent: string | undefined) {
    if (parent === undefined) return ROOT_CONTEXT;
    return this.propagator.extract(ROOT_CONTEXT, { traceparent: parent }, { get: (c, k) => c[k as 'traceparent'], keys: (c) => Object.keys(c) });
  }

  private wrap(span: Span): TraceSpan {
    const carrier: { traceparent?: string } = {};
    this.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, { set: (c, k, v) => void (c[k as 'traceparent'] = v) });
    return {
      traceparent: carrier.traceparent,
      set: (attributes) => void span.setAttributes(attributes),
      rename: (name) => void span.updateName(name),
      fail: (err, errorType) => {
        span.setAttribute(ATTR_ERROR_TYPE, errorType ?? (isStratusError(err) ? err.code : 'Internal'));
        span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      },
      end: () => span.end(),
    };
  }
}

function isTraceId(id: string): boolean {
  return /^[0-9a-f]{32}$/.test(id) && !/^0+$/.test(id);
}

/**
 * A field of an X-Ray trace header (`Root=…;Parent=…;Sampled=…`): its first occurrence (white
 * space allowed before a field's name and after its value).
 */
export function xrayField(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trimStart() === name) return part.slice(eq + 1).trimEnd();
  }
  return undefined;
}

/**
 * The OpenTelemetry trace id of an X-Ray trace header: its Root `1-5759e988-bd862e3fe1be46a994272793`
 * is trace `5759e988bd862e3fe1be46a994272793` (the epoch seconds and the random part, as AWS's own
 * X-Ray propagator maps them). Undefined for a header whose Root is not one (or all zeros).
 */
export function traceIdOfXRay(header: string): string | undefined {
  const root = /^1-([0-9a-f]{8})-([0-9a-f]{24})$/.exec(xrayField(header, 'Root') ?? '');
  const id = root ? `${root[1]}${root[2]}` : undefined;
  return id !== undefined && isTraceId(id) ? id : undefined;
}

/**
 * The caller's segment as a W3C traceparent, for an X-Ray header that names one (`Parent=` 16
 * lowercase hex, not all zero) under a valid Root; the invoke's first span hangs under it.
 */
export function traceparentOfXRay(header: string): string | undefined {
  const traceId = traceIdOfXRay(header);
  const parent = xrayField(header, 'Parent');
  if (traceId === undefined || parent === undefined || !/^[0-9a-f]{16}$/.test(parent) || /^0+$/.test(parent)) return undefined;
  return `00-${traceId}-${parent}-01`;
}

/** The header in which a span crosses Stratus's internal APIs (W3C Trace Context). */
export const TRACEPARENT_HEADER = 'traceparent';

/** The traceparent an internal request carries, if it has the form of one (the tracer checks the rest). */
export function traceparentFrom(headers: IncomingHttpHeaders): string | undefined {
  const value = headerValue(headers, TRACEPARENT_HEADER);
  return value !== undefined && /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(value) ? value : undefined;
}
