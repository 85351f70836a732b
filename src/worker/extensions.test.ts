import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExtensionHost, type ExtensionEvent } from './extensions.js';

const INVOKE: ExtensionEvent = { eventType: 'INVOKE', deadlineMs: 1, requestId: 'r1', invokedFunctionArn: 'arn', tracing: { type: 'X-Amzn-Trace-Id', value: 'Root=1' } };

function registered(host: ExtensionHost, name: string, events: string[]): string {
  const r = host.register(name, events);
  assert.ok('id' in r, JSON.stringify(r));
  return r.id;
}

describe('ExtensionHost', () => {
  it('init is done once every external extension registered and every registered one waits for its next event', () => {
    const host = new ExtensionHost();
    host.expect(['a', 'b']);
    let done = false;
    host.when(() => host.initDone, () => (done = true));
    const a = registered(host, 'a', ['INVOKE', 'SHUTDOWN']);
    host.next(a, () => {});
    assert.equal(done, false, 'b has not registered');
    const b = registered(host, 'b', ['INVOKE']);
    assert.equal(done, false, 'b has not asked for its next event');
    host.next(b, () => {});
    assert.equal(done, true);
  });

  it('refuses a name twice, SHUTDOWN for an internal extension, unknown identifiers, and registration after init', () => {
    const host = new ExtensionHost();
    host.expect(['a']);
    registered(host, 'a', ['INVOKE']);
    assert.deepEqual(host.register('a', ['INVOKE']), { errorType: 'Extension.InvalidExtensionState', errorMessage: 'Extension with this name already registered' });
    assert.equal((host.register('internal', ['SHUTDOWN']) as { errorType: string }).errorType, 'Extension.InvalidEventType');
    assert.equal((host.register(undefined, ['INVOKE']) as { errorType: string }).errorType, 'Extension.MissingHeader');
    assert.equal(host.next('forged', () => {}), false);
    host.closeRegistration();
    assert.equal((host.register('late', ['INVOKE']) as { errorType: string }).errorType, 'Extension.RegistrationClosed');
  });

  it('an INVOKE keeps its subscribers busy until they ask again; SHUTDOWN is done once they ask after it', () => {
    const host = new ExtensionHost();
    host.expect(['a']);
    const a = registered(host, 'a', ['INVOKE', 'SHUTDOWN']);
    const got: ExtensionEvent[] = [];
    const push = (e: ExtensionEvent) => void got.push(e);
    host.next(a, push);
    host.send(INVOKE);
    assert.deepEqual(got, [INVOKE]);
    assert.equal(host.idle, false);
    let idle = false;
    host.when(() => host.idle, () => (idle = true));
    host.next(a, push);
    assert.equal(idle, true);
    assert.equal(host.wantsShutdown, true);
    host.send({ eventType: 'SHUTDOWN', shutdownReason: 'spindown', deadlineMs: 2 });
    assert.equal(got[1]?.eventType, 'SHUTDOWN');
    assert.equal(host.shutDown, false);
    host.next(a, () => assert.fail('nothing after SHUTDOWN'));
    assert.equal(host.shutDown, true);
  });

  it('an extension that exited is never waited for', () => {
    const host = new ExtensionHost();
    host.expect(['a']);
    const a = registered(host, 'a', ['INVOKE', 'SHUTDOWN']);
    host.next(a, () => {});
    host.send(INVOKE);
    host.exited('a');
    assert.equal(host.idle, true);
    assert.equal(host.shutDown, true);
  });
});
