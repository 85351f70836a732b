/** A Lambda function's ARN: `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`. */
export function functionArn(region: string, accountId: string, name: string, qualifier?: string): string {
  return `arn:aws:lambda:${region}:${accountId}:function:${name}${qualifier === undefined ? '' : `:${qualifier}`}`;
}

/** The account and function name of a function ARN that Stratus made (see `functionArn`). */
export function functionOfArn(arn: string): { accountId: string; name: string } {
  const parts = arn.split(':');
  return { accountId: parts[4] ?? '', name: parts[6] ?? '' };
}
