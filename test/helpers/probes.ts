/**
 * JavaScript for functions that probe their sandbox (pasted into their source): `attempt(f)`
 * reports success or the error code, `connect(host, port)` what a TCP connection attempt gives.
 */
export const NODE_PROBE_HELPERS = `
const attempt = (f) => { try { return { ok: true, value: f() }; } catch (e) { return { ok: false, code: e.code ?? String(e) }; } };
const connect = (host, port) => new Promise((resolve) => {
  const socket = require('net').connect({ host, port });
  const done = (result) => { socket.destroy(); resolve(result); };
  socket.setTimeout(3000, () => done('TIMEOUT'));
  socket.once('connect', () => done('CONNECTED'));
  socket.once('error', (e) => done(e.code));
});
`;
