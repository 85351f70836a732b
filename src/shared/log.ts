import pinoModule from 'pino';

export type Logger = pinoModule.Logger;

/** Structured logs; components derive children with `component`, `function`, `requestId`. */
export function createLogger(level: string): Logger {
  return pinoModule({ level, base: undefined }, pinoModule.destination({ fd: 2, sync: false }));
}

export function silentLogger(): Logger {
  return pinoModule({ level: 'silent' });
}
