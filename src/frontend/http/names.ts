import { StratusError } from '../../shared/errors.js';

/** Function names in paths may be a name, a partial ARN or a full ARN, optionally qualified. */
const FUNCTION_REF =
  /^(?:arn:aws[a-zA-Z-]*:lambda:[a-z]{2}(?:-gov)?-[a-z]+-\d:(\d{12}):function:|(\d{12}):function:)?([a-zA-Z0-9_-]{1,64})(?::(\$LATEST|[a-zA-Z0-9_-]{1,128}))?$/;

export const FUNCTION_NAME_PATTERN =
  '(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?';

export interface FunctionRef {
  name: string;
  qualifier?: string;
  /** The account a full or partial ARN names (absent for a plain name). */
  accountId?: string;
}

export function parseFunctionRef(raw: string): FunctionRef {
  const match = FUNCTION_REF.exec(raw);
  if (!match?.[3] || raw.length > 170) {
    throw new StratusError(
      'Validation',
      `1 validation error detected: Value '${raw}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ${FUNCTION_NAME_PATTERN}`,
    );
  }
  const accountId = match[1] ?? match[2];
  return { name: match[3], qualifier: match[4], ...(accountId !== undefined ? { accountId } : {}) };
}

/** The account a function reference (a name, a partial or a full ARN) names, if it is one that does. */
export function accountNamedIn(raw: string): string | undefined {
  const match = FUNCTION_REF.exec(raw);
  return match?.[1] ?? match?.[2];
}

/** The qualifier from the path and from ?Qualifier= must agree when both are given. */
export function qualifierOf(ref: FunctionRef, query: URLSearchParams): string | undefined {
  const fromQuery = query.get('Qualifier') ?? undefined;
  if (ref.qualifier && fromQuery && ref.qualifier !== fromQuery) {
    throw new StratusError('InvalidParameterValue', 'The derived qualifier from the function name does not match the specified qualifier.');
  }
  return ref.qualifier ?? fromQuery;
}

/**
 * The path parameter `index` of a request, percent-decoded. Every route reads its path through
 * this: a malformed escape (`%zz`, a cut UTF-8 sequence) names nothing, and is the caller's
 * ValidationException, never a URIError that would become a service error.
 */
export function pathParam(req: { params: readonly (string | undefined)[] }, index: number): string {
  try {
    return decodeURIComponent(req.params[index] ?? '');
  } catch {
    throw new StratusError('Validation', 'The request path is not valid percent-encoding.');
  }
}
