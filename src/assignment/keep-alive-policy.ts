import { keepAliveSchema, type AssignmentConfig } from '../shared/config.js';
import { HistogramKeepAlive } from './histogram-keep-alive.js';
import { FixedKeepAlive, type KeepAlivePolicy } from './keep-alive.js';

/** The keep-alive policy an assignment configuration names (absent `keepAlive`: fixed). */
export function keepAlivePolicy(config: Pick<AssignmentConfig, 'keepAliveMs' | 'keepAlive'>): KeepAlivePolicy {
  const options = config.keepAlive ?? keepAliveSchema.parse({});
  return options.policy === 'histogram' ? new HistogramKeepAlive(options, config.keepAliveMs) : new FixedKeepAlive(config.keepAliveMs);
}
