/**
 * Python runtime (python3.11): print(), the root logger's TEXT and JSON formats,
 * AWS_LAMBDA_LOG_LEVEL, the handler installed when logging is first imported, and output
 * flushed before the response.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LOG_LINE, withFixture } from './testing/python-runtime.js';

describe('python runtime: logging and output', () => {
  const LOGGING_APP = `import logging, sys
print("print at init")
logging.warning("warning at init")
logger = logging.getLogger()

def handler(event, context):
    print("hello from print")
    print("to stderr", file=sys.stderr)
    logger.debug("debug line")
    logger.info("info line")
    logger.warning("warn line")
    logging.getLogger("child").error("error line %s", 42)
    return "done"
`;

  it('print() goes to stdout as is; the root logger prints [LEVEL]\\ttime\\trequestId\\tmessage at WARNING by default', () =>
    withFixture({ 'app.py': LOGGING_APP }, async (f) => {
      const rt = f.start('app.handler');
      f.api.enqueue({ id: 'log-1', body: '{}' });
      assert.equal((await f.api.response('log-1')).json, 'done');
      const out = await rt.waitForStdout('error line 42');
      assert.match(out, /^print at init\n/);
      assert.match(out, LOG_LINE('WARNING', '', 'warning at init'));
      assert.match(out, /^hello from print$/m);
      assert.match(out, LOG_LINE('WARNING', 'log-1', 'warn line'));
      assert.match(out, LOG_LINE('ERROR', 'log-1', 'error line 42'));
      assert.doesNotMatch(out, /info line|debug line/, 'root logger defaults to WARNING');
      for (let i = 0; i < 100 && !rt.stderr().includes('to stderr'); i++) await new Promise((r) => setTimeout(r, 20));
      assert.match(rt.stderr(), /^to stderr$/m);
    }));

  it('a function that imports logging only when invoked still logs through the Lambda handler; until then the runtime has not loaded it', () =>
    withFixture({ 'app.py': `import sys\n\ndef handler(event, context):\n    loaded = "logging" in sys.modules\n    context.log("via context.log")\n    import logging\n    logging.getLogger().error("late %s", 1)\n    return loaded\n` }, async (f) => {
      const rt = f.start('app.handler');
      f.api.enqueue({ id: 'log-late', body: '{}' });
      assert.equal((await f.api.response('log-late')).json, false, 'logging was not imported by the runtime at init');
      const out = await rt.waitForStdout('late 1');
      assert.match(out, /^via context\.log$/m);
      assert.match(out, LOG_LINE('ERROR', 'log-late', 'late 1'));
    }));

  it('AWS_LAMBDA_LOG_LEVEL sets the root level (TRACE → DEBUG)', () =>
    withFixture({ 'app.py': LOGGING_APP }, async (f) => {
      const rt = f.start('app.handler', { AWS_LAMBDA_LOG_LEVEL: 'TRACE' });
      f.api.enqueue({ id: 'log-2', body: '{}' });
      await f.api.response('log-2');
      const out = await rt.waitForStdout('error line 42');
      assert.match(out, LOG_LINE('DEBUG', 'log-2', 'debug line'));
      assert.match(out, LOG_LINE('INFO', 'log-2', 'info line'));
    }));

  it('AWS_LAMBDA_LOG_FORMAT=JSON writes one JSON object per record', () =>
    withFixture({ 'app.py': LOGGING_APP }, async (f) => {
      const rt = f.start('app.handler', { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'INFO' });
      f.api.enqueue({ id: 'log-3', body: '{}' });
      await f.api.response('log-3');
      const out = await rt.waitForStdout('error line 42');
      const records = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const info = records.find((r) => r['message'] === 'info line');
      assert.ok(info, out);
      assert.equal(info['level'], 'INFO');
      assert.equal(info['requestId'], 'log-3');
      assert.equal(info['logger'], 'root');
      assert.match(String(info['timestamp']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(records.find((r) => r['message'] === 'error line 42')?.['logger'], 'child');
    }));

  it('output written before the response is on stdout by the time the response is posted', () =>
    withFixture(
      {
        'big.py': `import sys\n\ndef handler(event, context):\n    sys.stdout.write("x" * 200000 + "END\\n")\n    return 1\n`,
      },
      async (f) => {
        const rt = f.start('big.handler');
        f.api.enqueue({ id: 'b1', body: '{}' });
        await f.api.response('b1');
        await rt.waitForStdout('END\n', 2000);
      },
    ));
});
