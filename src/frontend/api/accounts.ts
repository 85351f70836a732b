import type { AccessKey, Account, AccountDirectory } from '../../accounts/index.js';
import type { FunctionRegistries } from '../../registry/index.js';
import { StratusError } from '../../shared/errors.js';
import { type ApiRequest, parseJsonObject, type Route, Validator } from '../http/index.js';
import { callerAccount } from './caller.js';

export interface AccountRoutesDeps {
  accounts: AccountDirectory;
  registries: FunctionRegistries;
}

/** Stratus's own administrative API (no Lambda counterpart), signed like the Lambda API. */
export const ADMIN_API = '/_stratus/admin/v1';
const ACCOUNTS = new RegExp(`^${ADMIN_API}/accounts/?$`);
const ACCOUNT = new RegExp(`^${ADMIN_API}/accounts/(\\d{12})/?$`);
const KEYS = new RegExp(`^${ADMIN_API}/accounts/(\\d{12})/keys/?$`);
const KEY = new RegExp(`^${ADMIN_API}/accounts/(\\d{12})/keys/([A-Za-z0-9]{1,128})/?$`);
const MAX_QUOTA = Number.MAX_SAFE_INTEGER;

/**
 * Accounts and their access keys (`stratus accounts ...`). Only the administrative account may
 * call these: any other gets AccessDeniedException, and nothing changes.
 */
export function accountRoutes(deps: AccountRoutesDeps): Route[] {
  const limits = { body: 64 * 1024, tooLargeMessage: 'Request must be smaller than 65536 bytes', sigv4: true };
  const admin = (handle: Route['handle']): Route['handle'] => (req) => {
    if (deps.accounts.get(callerAccount(req))?.admin !== true) {
      throw new StratusError('Forbidden', `Account ${callerAccount(req)} is not authorized to manage accounts: only the administrative account is.`);
    }
    return handle(req);
  };
  return [
    { method: 'POST', pattern: ACCOUNTS, ...limits, handle: admin(async (req) => {
      const v = new Validator(parseJsonObject(req.body));
      const name = v.string('Name', 'name', { required: true, min: 1, max: 64 }) ?? '';
      const concurrency = v.integer('Concurrency', 'concurrency', 1, MAX_QUOTA);
      const maxFunctions = v.integer('MaxFunctions', 'maxFunctions', 1, MAX_QUOTA);
      const totalCodeBytes = v.integer('CodeStorageBytes', 'codeStorageBytes', 1, MAX_QUOTA);
      v.done();
      const quotas = {
        ...(concurrency !== undefined ? { concurrency } : {}), ...(maxFunctions !== undefined ? { maxFunctions } : {}),
        ...(totalCodeBytes !== undefined ? { totalCodeBytes } : {}),
      };
      const { key } = await deps.accounts.create(name, quotas);
      return { status: 201, body: keyShape(key) };
    }) },
    { method: 'GET', pattern: ACCOUNTS, ...limits, handle: admin(() => ({
      status: 200, body: { Accounts: deps.accounts.list().map((a) => accountShape(deps, a)) },
    })) },
    { method: 'GET', pattern: ACCOUNT, ...limits, handle: admin((req) => ({ status: 200, body: accountShape(deps, requireAccount(deps, req)) })) },
    { method: 'DELETE', pattern: ACCOUNT, ...limits, handle: admin(async (req) => {
      await deps.accounts.delete(requireAccount(deps, req).accountId, (id) => deps.registries.for(id).count);
      return { status: 204 };
    }) },
    { method: 'POST', pattern: KEYS, ...limits, handle: admin(async (req) => {
      const key = await deps.accounts.createKey(requireAccount(deps, req).accountId);
      return { status: 201, body: keyShape(key) };
    }) },
    { method: 'DELETE', pattern: KEY, ...limits, handle: admin(async (req) => {
      await deps.accounts.deleteKey(requireAccount(deps, req).accountId, req.params[1] ?? '');
      return { status: 204 };
    }) },
  ];
}

function requireAccount(deps: AccountRoutesDeps, req: ApiRequest): Account {
  const account = deps.accounts.get(req.params[0] ?? '');
  if (!account) throw new StratusError('ResourceNotFound', `Account ${req.params[0] ?? ''} not found.`);
  return account;
}

function keyShape(key: AccessKey): Record<string, string> {
  return { AccountId: key.accountId, AccessKeyId: key.accessKeyId, SecretAccessKey: key.secretAccessKey };
}

/** An account as listed: never its secrets. */
function accountShape(deps: AccountRoutesDeps, account: Account): Record<string, unknown> {
  const quotas = deps.accounts.quotasOf(account.accountId);
  return {
    AccountId: account.accountId, Name: account.name, Administrator: account.admin, CreatedAt: new Date(account.createdMs).toISOString(),
    Quotas: { Concurrency: quotas.concurrency, MaxFunctions: quotas.maxFunctions, CodeStorageBytes: quotas.totalCodeBytes },
    AccessKeyIds: deps.accounts.keysOf(account.accountId).map((k) => k.accessKeyId),
    FunctionCount: deps.registries.for(account.accountId).count,
  };
}
