import type { Clock } from '../shared/clock.js';
import type { AsyncInvokeConfig } from '../shared/config.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { InvokeRequest, InvokeService } from './invoke-service.js';

interface QueuedEvent {
  request: InvokeRequest;
  attempt: number;
}

/**
 * Event (asynchronous) invocations: accepted at once, run in the background, retried on
 * function error up to maxRetryAttempts with Lambda's back-off. In-memory for now: the
 * durable queue in the journal replaces this behind the same `enqueue`.
 */
export class AsyncInvoker {
  private readonly queue: QueuedEvent[] = [];
  private running = 0;
  private stopped = false;

  constructor(
    private readonly invoker: InvokeService,
    private readonly config: AsyncInvokeConfig,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  enqueue(request: InvokeRequest): void {
    this.queue.push({ request, attempt: 0 });
    this.pump();
  }

  get pending(): number {
    return this.queue.length + this.running;
  }

  stop(): void {
    this.stopped = true;
  }

  private pump(): void {
    while (!this.stopped && this.running < this.config.concurrency && this.queue.length > 0) {
      const item = this.queue.shift();
      if (!item) break;
      this.running++;
      void this.run(item).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async run(item: QueuedEvent): Promise<void> {
    const { request } = item;
    let failure: string;
    try {
      const { result } = await this.invoker.invoke(request);
      if (result.outcome.kind !== 'function-error') return;
      failure = result.outcome.errorType;
    } catch (err) {
      failure = errorMessage(err);
    }
    if (item.attempt >= this.config.maxRetryAttempts) {
      this.log.warn({ requestId: request.requestId, function: request.functionName, failure }, 'async invocation failed, retries exhausted');
      return;
    }
    const delay = this.config.retryDelaysMs[item.attempt] ?? this.config.retryDelaysMs.at(-1) ?? 0;
    this.clock.setTimer(delay, () => {
      this.queue.push({ request, attempt: item.attempt + 1 });
      this.pump();
    });
  }
}
