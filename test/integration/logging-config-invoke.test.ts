// LoggingConfig at invoke time, in real sandboxes, read back as a user does: `aws lambda invoke
// --log-type Tail`. JSON lines of Node's console and Python's logging, the platform's records,
// both levels' filtering, Text unchanged, and the attacks: a function's own AWS_LAMBDA_LOG_*
// variables, and messages forging platform records.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aws } from '../helpers/aws-cli.js';
import { cliWithLoggingConfig } from '../helpers/aws-cli-models.js';
import { ROLE } from '../helpers/lambda-api.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const FORGED = '{"time":"2020-01-01T00:00:00.000Z","type":"platform.report","record":{"requestId":"forged","metrics":{"durationMs":1}}}';

const NODE = `exports.handler = async (event, context) => {
  console.trace('trace-line');
  console.debug('debug-line');
  console.info('info-line', { n: 1 });
  console.warn('warn-line');
  console.error(new TypeError('boom'));
  console.log('forge\\n' + ${JSON.stringify(FORGED)});
  return { logGroup: context.logGroupName, format: process.env.AWS_LAMBDA_LOG_FORMAT, level: process.env.AWS_LAMBDA_LOG_LEVEL ?? null };
};`;

const PYTHON = `import logging, os
logger = logging.getLogger("app")

def handler(event, context):
    logger.debug("debug-line")
    logger.info("info-line")
    logger.warning("warn-line")
    logger.error("forge\\n" + ${JSON.stringify(FORGED)})
    print("raw-print-line")
    return {"format": os.environ.get("AWS_LAMBDA_LOG_FORMAT"), "level": os.environ.get("AWS_LAMBDA_LOG_LEVEL")}
`;

const SLOW = `exports.handler = () => new Promise((resolve) => setTimeout(resolve, 60_000));`;

type Line = Record<string, unknown> & { type?: string; record?: Record<string, unknown> };

describe('LoggingConfig at invoke (real sandboxes, AWS CLI --log-type Tail)', () => {
  let stratus: StratusProcess;
  let tmp: string;
  let env: Record<string, string>;
  const zips: Record<string, string> = {};

  async function cli(args: string[]): Promise<Record<string, unknown>> {
    const r = await aws(stratus, ['lambda', ...args], { env });
    assert.equal(r.code, 0, `aws lambda ${args[0]} failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  async function create(name: string, code: 'node' | 'python' | 'slow', ...extra: string[]): Promise<void> {
    const [runtime, handler] = code === 'python' ? ['python3.11', 'app.handler'] : ['nodejs20.x', 'index.handler'];
    await cli(['create-function', '--function-name', name, '--runtime', runtime, '--handler', handler, '--role', ROLE, '--zip-file', `fileb://${zips[code]}`, ...extra]);
  }

  /** Invokes with LogType=Tail: the function's result, the request id and the log tail's lines. */
  async function invoke(name: string): Promise<{ result: Record<string, unknown>; requestId: string; lines: string[] }> {
    const outFile = join(tmp, `out-${Math.random().toString(36).slice(2)}.json`);
    const res = await aws(stratus, ['lambda', 'invoke', '--function-name', name, '--log-type', 'Tail', '--debug', outFile], { env });
    assert.equal(res.code, 0, `invoke failed: ${res.stderr.slice(-2000)}`);
    const meta = JSON.parse(res.stdout) as { LogResult: string };
    const requestId = /x-amzn-requestid': '([0-9a-f-]+)'/i.exec(res.stderr)?.[1] ?? '';
    const lines = Buffer.from(meta.LogResult, 'base64').toString('utf8').split('\n').filter((l) => l !== '');
    return { result: JSON.parse(await readFile(outFile, 'utf8')) as Record<string, unknown>, requestId, lines };
  }

  /** Every line of a JSON-format log is one JSON object. */
  function parsed(lines: string[]): Line[] {
    return lines.map((l) => {
      try {
        return JSON.parse(l) as Line;
      } catch {
        return assert.fail(`not a JSON line: ${l}\nin:\n${lines.join('\n')}`);
      }
    });
  }

  before(async () => {
    stratus = await startStratus({ args: ['--function-logs', 'store'] });
    tmp = await mkdtemp(join(tmpdir(), 'stratus-logcfg-inv-'));
    env = await cliWithLoggingConfig(join(tmp, 'models'));
    const sources: Record<string, Record<string, string>> = { node: { 'index.js': NODE }, python: { 'app.py': PYTHON }, slow: { 'index.js': SLOW } };
    for (const [kind, files] of Object.entries(sources)) {
      zips[kind] = join(tmp, `${kind}.zip`);
      await writeFile(zips[kind], await makeZip(files));
    }
  });
  after(async () => {
    await stratus?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('Node in JSON: console.* are Lambda\'s JSON lines at INFO and above, around initStart, start and report', async () => {
    await create('lc-node-json', 'node', '--logging-config', 'LogFormat=JSON,LogGroup=/team/orders');
    const { result, requestId, lines } = await invoke('lc-node-json');
    assert.deepEqual(result, { logGroup: '/team/orders', format: 'JSON', level: 'INFO' });
    const records = parsed(lines);
    assert.deepEqual(records.filter((r) => r.type).map((r) => r.type), ['platform.initStart', 'platform.start', 'platform.report']);
    const start = records.find((r) => r.type === 'platform.start');
    assert.deepEqual(start?.record, { requestId, version: '$LATEST' });
    const report = records.find((r) => r.type === 'platform.report');
    assert.equal(report?.record?.requestId, requestId);
    assert.equal(report?.record?.status, 'success');
    assert.deepEqual(Object.keys(report?.record?.metrics as object), ['durationMs', 'billedDurationMs', 'memorySizeMB', 'maxMemoryUsedMB', 'initDurationMs']);
    const app = records.filter((r) => !r.type);
    assert.deepEqual(app.map((r) => r.level), ['INFO', 'WARN', 'ERROR', 'INFO'], 'TRACE and DEBUG are below the default INFO');
    assert.deepEqual(Object.keys(app[0] ?? {}), ['timestamp', 'level', 'requestId', 'message']);
    assert.equal(app[0]?.requestId, requestId);
    assert.equal(app[0]?.message, "info-line { n: 1 }");
    assert.match(String(app[0]?.timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const error = app[2]?.message as Record<string, unknown>;
    assert.equal(error.errorType, 'TypeError');
    assert.equal(error.errorMessage, 'boom');
    assert.ok(Array.isArray(error.stackTrace) && String(error.stackTrace[0]).startsWith('TypeError: boom'));
  });

  it('the lines go to the LoggingConfig\'s LogGroup (aws logs filter-log-events), not to /aws/lambda/<name>', async () => {
    const { requestId } = await invoke('lc-node-json');
    const eventsOf = async (group: string) => {
      const r = await aws(stratus, ['logs', 'filter-log-events', '--log-group-name', group], { env });
      return r.code === 0 ? (JSON.parse(r.stdout) as { events: { message: string }[] }).events.map((e) => e.message) : [];
    };
    const deadline = Date.now() + 20_000;
    let stored: string[] = [];
    while (!stored.some((m) => m.includes('"platform.report"') && m.includes(requestId))) {
      if (Date.now() > deadline) assert.fail(`no report of ${requestId} in /team/orders:\n${stored.join('\n')}`);
      await new Promise((r) => setTimeout(r, 200));
      stored = await eventsOf('/team/orders');
    }
    assert.ok(stored.some((m) => m.includes('"info-line { n: 1 }"')), 'the function\'s own lines too');
    assert.deepEqual(await eventsOf('/aws/lambda/lc-node-json'), []);
  });

  it('a message forging a platform record stays inside its own one-line JSON record (Node and Python)', async () => {
    const node = parsed((await invoke('lc-node-json')).lines);
    await create('lc-py-json', 'python', '--logging-config', 'LogFormat=JSON');
    const python = (await invoke('lc-py-json')).lines;
    for (const records of [node, parsed(python.filter((l) => l !== 'raw-print-line'))]) {
      assert.equal(records.filter((r) => r.type === 'platform.report').length, 1, 'only the platform writes a report');
      assert.ok(!records.some((r) => r.record?.requestId === 'forged'));
      const forged = records.find((r) => typeof r.message === 'string' && r.message.startsWith('forge\n'));
      assert.equal(forged?.message, `forge\n${FORGED}`, 'the whole message, newline included, is one record');
    }
  });

  it('Python in JSON: logging writes Lambda\'s JSON shape filtered by the level; print() stays raw', async () => {
    const { result, requestId, lines } = await invoke('lc-py-json');
    assert.deepEqual(result, { format: 'JSON', level: 'INFO' });
    assert.ok(lines.includes('raw-print-line'), `print() is written as it is:\n${lines.join('\n')}`);
    const app = parsed(lines.filter((l) => l !== 'raw-print-line')).filter((r) => !r.type);
    assert.deepEqual(app.map((r) => [r.level, r.logger]), [['INFO', 'app'], ['WARNING', 'app'], ['ERROR', 'app']]);
    assert.deepEqual(app[0], { timestamp: app[0]?.timestamp, level: 'INFO', message: 'info-line', logger: 'app', requestId });
  });

  it('ApplicationLogLevel and SystemLogLevel filter; the function\'s own AWS_LAMBDA_LOG_* variables change nothing', async () => {
    const attack = 'Variables={AWS_LAMBDA_LOG_FORMAT=Text,AWS_LAMBDA_LOG_LEVEL=TRACE}';
    await create('lc-node-quiet', 'node', '--logging-config', 'LogFormat=JSON,ApplicationLogLevel=ERROR,SystemLogLevel=WARN', '--environment', attack);
    const quiet = await invoke('lc-node-quiet');
    assert.deepEqual(quiet.result, { logGroup: '/aws/lambda/lc-node-quiet', format: 'JSON', level: 'ERROR' });
    const records = parsed(quiet.lines);
    assert.deepEqual(records.map((r) => r.level ?? r.type), ['ERROR'], `only the error, no platform record of a success:\n${quiet.lines.join('\n')}`);

    await cli(['update-function-configuration', '--function-name', 'lc-node-quiet', '--logging-config', 'ApplicationLogLevel=TRACE,SystemLogLevel=DEBUG']);
    const loud = parsed((await invoke('lc-node-quiet')).lines);
    assert.deepEqual(loud.filter((r) => r.type).map((r) => r.type), [
      'platform.initStart', 'platform.initRuntimeDone', 'platform.start', 'platform.runtimeDone', 'platform.report',
    ], 'a new configuration is a new environment (initStart again), and DEBUG adds the runtimeDone events');
    assert.deepEqual(loud.filter((r) => !r.type).map((r) => r.level), ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'INFO']);
  });

  it('Text stays as it was, whatever the function sets in AWS_LAMBDA_LOG_FORMAT', async () => {
    await create('lc-node-text', 'node', '--environment', 'Variables={AWS_LAMBDA_LOG_FORMAT=JSON}');
    const { result, requestId, lines } = await invoke('lc-node-text');
    assert.equal(result.format, 'Text');
    assert.ok(lines.includes(`START RequestId: ${requestId} Version: $LATEST`), lines.join('\n'));
    assert.ok(lines.includes(`END RequestId: ${requestId}`));
    assert.ok(lines.some((l) => l.startsWith(`REPORT RequestId: ${requestId}\tDuration: `)));
    assert.ok(lines.some((l) => new RegExp(`^\\S+\\t${requestId}\\tINFO\\tinfo-line \\{ n: 1 \\}$`).test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => l.endsWith('\tINFO\tforge\r{"time":"2020-01-01T00:00:00.000Z","type":"platform.report","record":{"requestId":"forged","metrics":{"durationMs":1}}}')),
      'a newline in a Text message is a carriage return: still one line');
    assert.ok(!lines.some((l) => l.startsWith('{"time"')), 'no JSON platform record in Text');
  });

  it('a timeout in JSON: Lambda\'s "Task timed out" line is kept, and runtimeDone and report say timeout (WARN)', async () => {
    await create('lc-slow', 'slow', '--timeout', '1', '--logging-config', 'LogFormat=JSON,SystemLogLevel=WARN');
    const outFile = join(tmp, 'slow.json');
    const res = await aws(stratus, ['lambda', 'invoke', '--function-name', 'lc-slow', '--log-type', 'Tail', outFile], { env });
    assert.equal(res.code, 0, res.stderr);
    const meta = JSON.parse(res.stdout) as { LogResult: string; FunctionError?: string };
    assert.equal(meta.FunctionError, 'Unhandled');
    const lines = Buffer.from(meta.LogResult, 'base64').toString('utf8').split('\n').filter((l) => l !== '');
    assert.match(lines[0] ?? '', /^\S+Z [0-9a-f-]+ Task timed out after 1\.00 seconds$/, lines.join('\n'));
    assert.deepEqual(parsed(lines.slice(1)).map((r) => [r.type, r.record?.status, r.record?.errorType]), [
      ['platform.runtimeDone', 'timeout', 'Sandbox.Timedout'], ['platform.report', 'timeout', 'Sandbox.Timedout'],
    ]);
  });
});
