import { StratusError } from '../shared/errors.js';

/** An ImageUri, `<registry>/<repository>:<tag>` or `<registry>/<repository>@sha256:<hex>`. */
export interface ImageReference {
  /** host[:port] of the registry. */
  registry: string;
  repository: string;
  /** The tag or digest to pull. */
  reference: string;
  uri: string;
}

const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Parses an ImageUri; the registry part is required (there is no default registry). */
export function parseImageUri(uri: string): ImageReference {
  const slash = uri.indexOf('/');
  const registry = slash > 0 ? uri.slice(0, slash) : '';
  if (!registry || !/[.:]|^localhost$/.test(registry)) throw invalidUri(uri);
  const rest = uri.slice(slash + 1);
  const at = rest.indexOf('@');
  const colon = rest.lastIndexOf(':');
  let repository: string;
  let reference: string;
  if (at >= 0) {
    [repository, reference] = [rest.slice(0, at), rest.slice(at + 1)];
    if (!DIGEST.test(reference)) throw invalidUri(uri);
  } else if (colon > 0) {
    [repository, reference] = [rest.slice(0, colon), rest.slice(colon + 1)];
    if (!TAG.test(reference)) throw invalidUri(uri);
  } else {
    // Lambda requires a tag or a digest (no implicit :latest), with the same message.
    throw invalidUri(uri);
  }
  if (!REPOSITORY.test(repository)) throw invalidUri(uri);
  return { registry, repository, reference, uri };
}

function invalidUri(uri: string): StratusError {
  return new StratusError('InvalidParameterValue', `Source image ${uri} is not valid. Provide a valid source image.`);
}

/** `<registry>/<repository>@<digest>`: Lambda's ResolvedImageUri. */
export function resolvedUri(ref: ImageReference, digest: string): string {
  return `${ref.registry}/${ref.repository}@${digest}`;
}
