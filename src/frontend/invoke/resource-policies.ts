import { policyAllows, policyKey, type FunctionRegistries } from '../../registry/index.js';
import type { CrossAccountCheck } from './invocations.js';
import type { UrlPolicyCheck } from './url-invocations.js';

/**
 * Whether another account may invoke a function, or anyone its NONE function URL, as the
 * function's resource policy for the qualifier invoked says (AddPermission). Without a
 * statement that allows the caller: no.
 */
export function resourcePolicyChecks(registries: FunctionRegistries): { mayInvoke: CrossAccountCheck; mayInvokeUrl: UrlPolicyCheck } {
  type Target = Omit<Parameters<CrossAccountCheck>[0], 'caller'> & { caller?: string };
  const allows = (target: Target, action: string, functionUrlAuthType?: 'NONE' | 'AWS_IAM') => {
    const registry = registries.existing(target.accountId);
    const fn = registry?.find(target.functionName);
    if (!registry || !fn) return false;
    const statements = fn.policies?.[policyKey(target.qualifier)]?.statements ?? [];
    return policyAllows(statements, {
      callerAccountId: target.caller, action, resourceArn: registry.qualifiedArn(target.functionName, target.qualifier), functionUrlAuthType,
    });
  };
  return {
    mayInvoke: (target) => allows(target, 'lambda:InvokeFunction'),
    mayInvokeUrl: (target) => allows(target, 'lambda:InvokeFunctionUrl', target.authType),
  };
}
