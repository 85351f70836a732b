import type { FunctionRegistry } from '../../registry/index.js';
import type { Route } from '../http/index.js';

export interface AccountSettingsDeps {
  registry: FunctionRegistry;
  maxZipBytes: number;
  maxUnzippedBytes: number;
  /** The account's code storage quota. */
  totalCodeBytes(): number;
  /** Bytes of the account's layer versions (AccountUsage.TotalCodeSize counts deployment packages and layer archives). */
  layerBytes(): Promise<number>;
  /** The account's concurrency limit, and what reservations leave of it. */
  concurrency(): { total: number; unreserved: number };
}

/** GetAccountSettings: the caller's own account's quotas and usage. */
export function accountSettingsRoutes(deps: AccountSettingsDeps): Route[] {
  return [{
    method: 'GET', pattern: /^\/2016-08-19\/account-settings\/?$/, body: 1024 * 1024,
    tooLargeMessage: 'Request must be smaller than 1048576 bytes for the GetAccountSettings operation', sigv4: true,
    handle: async () => {
      const layerBytes = await deps.layerBytes();
      const concurrency = deps.concurrency();
      return {
        status: 200,
        body: {
          AccountLimit: {
            TotalCodeSize: deps.totalCodeBytes(), CodeSizeUnzipped: deps.maxUnzippedBytes, CodeSizeZipped: deps.maxZipBytes,
            ConcurrentExecutions: concurrency.total, UnreservedConcurrentExecutions: concurrency.unreserved,
          },
          AccountUsage: { TotalCodeSize: deps.registry.codeUsage() + layerBytes, FunctionCount: deps.registry.count },
        },
      };
    },
  }];
}
