/**
 * `node /var/runtime/bootstrap.mjs`, as container images built for earlier Stratus versions start
 * the runtime client: the same runtime (bootstrap.cjs, which Stratus itself starts).
 */
import './bootstrap.cjs';
