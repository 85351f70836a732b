import type { FunctionRegistry } from '../../registry/index.js';
import type { Route } from '../http/index.js';

export interface AccountSettingsDeps {
  registry: FunctionRegistry;
  maxZipBytes: number;
  maxUnzippedBytes: number;
  /** The account's concurrency limit, and what reservations leave of it. */
  concurrency(): { total: number; unreserved: number };
}

/** Lambda's default code storage quota (75 GB). */
const TOTAL_CODE_SIZE = 80_530_636_800;

/** GetAccountSettings: limits from this installation's configuration, usage from the registry. */
export function accountSettingsRoutes(deps: AccountSettingsDeps): Route[] {
  return [{
    method: 'GET', pattern: /^\/2016-08-19\/account-settings\/?$/, body: 1024 * 1024,
    tooLargeMessage: 'Request must be smaller than 1048576 bytes for the GetAccountSettings operation', sigv4: true,
    handle: () => {
      const functions = deps.registry.list();
      let totalCodeSize = 0;
      for (const fn of functions) totalCodeSize += fn.code.size + deps.registry.versions.list(fn.name).reduce((sum, v) => sum + v.code.size, 0);
      const concurrency = deps.concurrency();
      return {
        status: 200,
        body: {
          AccountLimit: {
            TotalCodeSize: TOTAL_CODE_SIZE, CodeSizeUnzipped: deps.maxUnzippedBytes, CodeSizeZipped: deps.maxZipBytes,
            ConcurrentExecutions: concurrency.total, UnreservedConcurrentExecutions: concurrency.unreserved,
          },
          AccountUsage: { TotalCodeSize: totalCodeSize, FunctionCount: functions.length },
        },
      };
    },
  }];
}
