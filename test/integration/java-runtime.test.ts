// java17 functions, compiled in the test with javac against the runtime's Lambda interfaces, run
// with Stratus's Java runtime client in a real sandbox, driven through the real AWS CLI and SDK.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { aws } from '../helpers/aws-cli.js';
import { compileJava } from '../helpers/java.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/r';

const ORDERS = `
package shop;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

public class Orders implements RequestHandler<Orders.Order, Orders.Receipt> {
    public record Line(String sku, int quantity, BigDecimal price) {}
    public record Order(String customer, List<Line> lines, Map<String, String> tags, boolean express, Long coupon, Address shipTo) {}

    public static class Address {
        private String city;
        private String zip;
        public String getCity() { return city; }
        public void setCity(String city) { this.city = city; }
        public String getZip() { return zip; }
        public void setZip(String zip) { this.zip = zip; }
    }

    public static class Receipt {
        private String customer;
        private BigDecimal total;
        private int items;
        private List<String> skus = new ArrayList<>();
        private Address shipTo;
        private Map<String, Object> context;
        private String missing;
        private int calls;
        public String getCustomer() { return customer; }
        public BigDecimal getTotal() { return total; }
        public int getItems() { return items; }
        public List<String> getSkus() { return skus; }
        public Address getShipTo() { return shipTo; }
        public Map<String, Object> getContext() { return context; }
        public String getMissing() { return missing; }
        public int getCalls() { return calls; }
        public boolean isExpress() { return express; }
        private boolean express;
    }

    private int calls;

    @Override
    public Receipt handleRequest(Order order, Context context) {
        calls++;
        LambdaLogger logger = context.getLogger();
        logger.log("order from " + order.customer() + " in " + context.getAwsRequestId());
        if ("nobody".equals(order.customer())) throw new IllegalStateException("no customer", new IllegalArgumentException("the cause"));
        Receipt r = new Receipt();
        r.customer = order.customer();
        r.total = BigDecimal.ZERO;
        for (Line l : order.lines()) {
            r.items += l.quantity();
            r.total = r.total.add(l.price().multiply(BigDecimal.valueOf(l.quantity())));
            r.skus.add(l.sku());
        }
        r.shipTo = order.shipTo();
        r.express = order.express();
        r.calls = calls;
        r.context = new java.util.LinkedHashMap<>();
        r.context.put("requestId", context.getAwsRequestId());
        r.context.put("functionName", context.getFunctionName());
        r.context.put("functionVersion", context.getFunctionVersion());
        r.context.put("arn", context.getInvokedFunctionArn());
        r.context.put("memory", context.getMemoryLimitInMB());
        r.context.put("remaining", context.getRemainingTimeInMillis());
        r.context.put("logGroup", context.getLogGroupName());
        r.context.put("logStream", context.getLogStreamName());
        r.context.put("identity", context.getIdentity() == null ? "none" : context.getIdentity().getIdentityId());
        r.context.put("tags", order.tags());
        r.context.put("coupon", order.coupon());
        if (context.getClientContext() != null) {
            r.context.put("app", context.getClientContext().getClient().getAppTitle());
            r.context.put("custom", context.getClientContext().getCustom());
            r.context.put("env", context.getClientContext().getEnvironment());
        }
        return r;
    }
}
`;

const STATICS = `
package shop;

import com.amazonaws.services.lambda.runtime.Context;
import java.util.List;
import java.util.Map;

public class Statics {
    public static String shout(String in) { return in.toUpperCase(); }
    public static int twice(int n, Context context) { return 2 * n; }
    public static Map<String, Object> raw(Object event) { return Map.of("type", event.getClass().getSimpleName(), "event", event); }
    public static List<Integer> list(List<Integer> in) { return in.stream().map(i -> i + 1).toList(); }
    public static void nothing(Map<String, Object> in) { System.out.println("nothing to return"); }
    public static String levels(Object in, Context context) {
        context.getLogger().log("debug detail", com.amazonaws.services.lambda.runtime.logging.LogLevel.DEBUG);
        context.getLogger().log("disk \\"almost\\" full\\nsecond line", com.amazonaws.services.lambda.runtime.logging.LogLevel.WARN);
        context.getLogger().log("no level");
        return "logged";
    }
}
`;

const STREAMS = `
package shop;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

public class Streams implements RequestStreamHandler {
    @Override
    public void handleRequest(InputStream in, OutputStream out, Context context) throws IOException {
        String body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        context.getLogger().log("stream got " + body.length() + " bytes");
        out.write(("{\\"reversed\\":\\"" + new StringBuilder(body.replace("\\"", "")).reverse() + "\\",\\"fn\\":\\"" + context.getFunctionName() + "\\"}").getBytes(StandardCharsets.UTF_8));
    }
}
`;

const BROKEN_INIT = `
package shop;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;

public class BrokenInit implements RequestHandler<Object, String> {
    static {
        if (System.getenv("BREAK_INIT") != null) throw new IllegalStateException("configuration missing: " + System.getenv("BREAK_INIT"));
    }
    public String handleRequest(Object in, Context context) { return "fine"; }
}
`;

/** A library in lib/ and a handler in a jar of its own in lib/: Lambda's layout for jar dependencies. */
const LIB = `
package lib;
public class Greeter { public static String greet(String who) { return "hello, " + who; } }
`;
const USES_LIB = `
package app;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
public class UsesLib implements RequestHandler<String, String> {
    public String handleRequest(String in, Context context) { return lib.Greeter.greet(in); }
}
`;

describe('java17 runtime', () => {
  let s: StratusProcess;
  let work: string;
  const invoke = async (fn: string, payload: string, extra: { ClientContext?: string } = {}) => {
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: fn, Payload: Buffer.from(payload), LogType: 'Tail', ...extra }));
    return { error: out.FunctionError, text: Buffer.from(out.Payload ?? []).toString(), log: Buffer.from(out.LogResult ?? '', 'base64').toString(), id: out.$metadata.requestId };
  };
  const create = async (name: string, handler: string, zip: Buffer, env: Record<string, string> = {}, extra: Partial<ConstructorParameters<typeof CreateFunctionCommand>[0]> = {}) => {
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: name, Runtime: 'java17', Role: ROLE, Handler: handler, Timeout: 10, MemorySize: 512,
      Code: { ZipFile: zip }, Environment: { Variables: env }, ...extra,
    }));
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'stratus-java-'));
    s = await startStratus();
    const classes = await compileJava({ 'shop/Orders.java': ORDERS, 'shop/Statics.java': STATICS, 'shop/Streams.java': STREAMS, 'shop/BrokenInit.java': BROKEN_INIT });
    const zip = await makeZip(classes);
    await writeFile(join(work, 'shop.zip'), zip);
    await create('statics-shout', 'shop.Statics::shout', zip);
    await create('statics-twice', 'shop.Statics::twice', zip);
    await create('statics-raw', 'shop.Statics::raw', zip);
    await create('statics-list', 'shop.Statics::list', zip);
    await create('statics-nothing', 'shop.Statics::nothing', zip);
    await create('streams', 'shop.Streams', zip);
    await create('json-logs', 'shop.Statics::levels', zip, {}, { LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'INFO' } });
    await create('broken-init', 'shop.BrokenInit', zip, { BREAK_INIT: 'DB_URL' });
    await create('no-class', 'shop.Missing::handleRequest', zip);
    await create('no-method', 'shop.Statics::absent', zip);
    const lib = await compileJava({ 'lib/Greeter.java': LIB }, { jar: 'lib/greeter.jar' });
    const libJar = join(work, 'greeter.jar');
    await writeFile(libJar, lib['lib/greeter.jar'] as Buffer);
    const app = await compileJava({ 'app/UsesLib.java': USES_LIB }, { jar: 'lib/app.jar', classPath: [libJar] });
    await create('jars', 'app.UsesLib', await makeZip({ ...lib, ...app }));
  });
  after(async () => {
    await s.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('a RequestHandler gets its POJO (records, beans, lists, maps, numbers) and returns one as JSON, through the AWS CLI', async () => {
    const created = await aws(s, ['lambda', 'create-function', '--function-name', 'orders', '--runtime', 'java17', '--role', ROLE,
      '--handler', 'shop.Orders::handleRequest', '--zip-file', `fileb://${join(work, 'shop.zip')}`, '--memory-size', '512', '--timeout', '10']);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(JSON.parse(created.stdout).Runtime, 'java17');
    const order = {
      customer: 'ada', express: true, coupon: 0, unknownField: 'ignored',
      lines: [{ sku: 'A-1', quantity: 2, price: 1.25 }, { sku: 'B-2', quantity: 1, price: 10 }],
      tags: { channel: 'web' }, shipTo: { city: 'Paris', zip: '75001' },
    };
    const out = join(work, 'out.json');
    // 2^53 + 1: only exact if no double ever holds it.
    const payload = JSON.stringify(order).replace('"coupon":0', '"coupon":9007199254740993');
    const r = await aws(s, ['lambda', 'invoke', '--function-name', 'orders', '--payload', payload, '--log-type', 'Tail', out]);
    assert.equal(r.code, 0, r.stderr);
    const meta = JSON.parse(r.stdout) as { StatusCode: number; FunctionError?: string; LogResult: string };
    assert.equal(meta.FunctionError, undefined);
    const raw = await readFile(out, 'utf8');
    assert.match(raw, /"coupon":9007199254740993[,}]/, 'a long survives exactly');
    const receipt = JSON.parse(raw) as Record<string, unknown> & { context: Record<string, unknown> };
    assert.equal(receipt.customer, 'ada');
    assert.equal(receipt.total, 12.5);
    assert.equal(receipt.items, 3);
    assert.deepEqual(receipt.skus, ['A-1', 'B-2']);
    assert.deepEqual(receipt.shipTo, { city: 'Paris', zip: '75001' });
    assert.equal(receipt.express, true);
    assert.equal('missing' in receipt, false, 'null properties are left out');
    assert.equal(receipt.calls, 1);
    const log = Buffer.from(meta.LogResult, 'base64').toString();
    const requestId = /START RequestId: (\S+)/.exec(log)?.[1];
    assert.ok(requestId, log);
    assert.match(log, new RegExp(`order from ada in ${requestId}`), 'LambdaLogger writes to the function log');
    assert.match(log, /INIT_START Runtime Version: stratus:java17/);
    const c = receipt.context;
    assert.equal(c.requestId, requestId);
    assert.equal(c.functionName, 'orders');
    assert.equal(c.functionVersion, '$LATEST');
    assert.match(String(c.arn), /^arn:aws:lambda:us-east-1:\d{12}:function:orders$/);
    assert.equal(c.memory, 512);
    assert.ok(Number(c.remaining) > 0 && Number(c.remaining) <= 10_000, `remaining ${c.remaining}`);
    assert.equal(c.logGroup, '/aws/lambda/orders');
    assert.match(String(c.logStream), /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]+$/);
    assert.equal(c.identity, 'none');
    assert.deepEqual(c.tags, { channel: 'web' });
    // Warm: the same handler instance.
    const again = await invoke('orders', JSON.stringify({ customer: 'bob', lines: [] }));
    assert.equal((JSON.parse(again.text) as { calls: number }).calls, 2);
    assert.doesNotMatch(again.log, /INIT_START/);
  });

  test('the client context of the invoke reaches Context.getClientContext()', async () => {
    const clientContext = { client: { installation_id: 'i-1', app_title: 'shop-app' }, custom: { flavour: 'vanilla' }, env: { platform: 'android' } };
    const r = await invoke('orders', JSON.stringify({ customer: 'cy', lines: [] }), { ClientContext: Buffer.from(JSON.stringify(clientContext)).toString('base64') });
    assert.equal(r.error, undefined, r.text);
    const c = (JSON.parse(r.text) as { context: Record<string, unknown> }).context;
    assert.equal(c.app, 'shop-app');
    assert.deepEqual(c.custom, { flavour: 'vanilla' });
    assert.deepEqual(c.env, { platform: 'android' });
  });

  test('an exception is Unhandled with Lambda\'s Java error shape (type, message, stack, cause), and the JVM keeps serving', async () => {
    const r = await invoke('orders', JSON.stringify({ customer: 'nobody', lines: [] }));
    assert.equal(r.error, 'Unhandled');
    const body = JSON.parse(r.text) as { errorType: string; errorMessage: string; stackTrace: string[]; cause: { errorType: string; errorMessage: string } };
    assert.equal(body.errorType, 'java.lang.IllegalStateException');
    assert.equal(body.errorMessage, 'no customer');
    assert.match(body.stackTrace[0] ?? '', /^shop\.Orders\.handleRequest\(Orders\.java:\d+\)$/);
    assert.ok(body.stackTrace.every((f) => !f.includes('dev.stratus') && !f.includes('reflect')), body.stackTrace.join('\n'));
    assert.deepEqual({ type: body.cause.errorType, message: body.cause.errorMessage }, { type: 'java.lang.IllegalArgumentException', message: 'the cause' });
    assert.match(r.log, /no customer: java\.lang\.IllegalStateException/);
    const next = await invoke('orders', JSON.stringify({ customer: 'dee', lines: [] }));
    assert.equal(next.error, undefined);
    assert.ok((JSON.parse(next.text) as { calls: number }).calls >= 3, 'the same JVM and handler instance');
  });

  test('an event that does not fit the input type is a JSON parsing error', async () => {
    const r = await invoke('orders', JSON.stringify({ customer: 'ed', lines: [{ sku: 'x', quantity: 'many' }] }));
    assert.equal(r.error, 'Unhandled');
    const body = JSON.parse(r.text) as { errorType: string; errorMessage: string; cause: { errorMessage: string } };
    assert.equal(body.errorType, 'java.lang.RuntimeException');
    assert.equal(body.errorMessage, 'An error occurred during JSON parsing');
    assert.match(body.cause.errorMessage, /lines\[0\]\.quantity/);
  });

  test('Class::method handlers: String, primitives with Context, Object, List and void', async () => {
    assert.equal((await invoke('statics-shout', '"quiet"')).text, '"QUIET"');
    assert.equal((await invoke('statics-twice', '21')).text, '42');
    assert.deepEqual(JSON.parse((await invoke('statics-raw', '{"a":[1,2.5,"x",null,true]}')).text), { type: 'LinkedHashMap', event: { a: [1, 2.5, 'x', null, true] } });
    assert.equal((await invoke('statics-list', '[1,2,3]')).text, '[2,3,4]');
    const v = await invoke('statics-nothing', '{}');
    assert.equal(v.error, undefined);
    assert.equal(v.text, 'null');
    assert.match(v.log, /nothing to return/);
  });

  test('with LoggingConfig JSON, LambdaLogger writes one JSON record per call and drops levels below ApplicationLogLevel', async () => {
    const r = await invoke('json-logs', '{}');
    assert.equal(r.text, '"logged"');
    const records = r.log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const app = records.filter((rec) => rec.AWSRequestId === r.id);
    assert.deepEqual(app.map((rec) => [rec.level, rec.message]), [['WARN', 'disk "almost" full\nsecond line'], ['UNDEFINED', 'no level']]);
    assert.ok(app.every((rec) => typeof rec.timestamp === 'string' && !Number.isNaN(Date.parse(String(rec.timestamp)))));
    assert.doesNotMatch(r.log, /debug detail/);
  });

  test('a RequestStreamHandler gets the raw event and writes the raw response', async () => {
    const r = await invoke('streams', '"abc def"');
    assert.equal(r.error, undefined, r.text);
    assert.deepEqual(JSON.parse(r.text), { reversed: 'fed cba', fn: 'streams' });
    assert.match(r.log, /stream got 9 bytes/);
  });

  test('classes in a jar under lib/ and their dependencies in another jar there are on the class path', async () => {
    const r = await invoke('jars', '"world"');
    assert.equal(r.error, undefined, r.text);
    assert.equal(r.text, '"hello, world"');
  });

  test('init failures answer as Lambda\'s Java runtime reports them (AWS CLI)', async () => {
    const out = join(work, 'init.json');
    const broken = await aws(s, ['lambda', 'invoke', '--function-name', 'broken-init', '--payload', '{}', out]);
    assert.equal(broken.code, 0, broken.stderr);
    assert.equal(JSON.parse(broken.stdout).FunctionError, 'Unhandled');
    const brokenBody = JSON.parse(await readFile(out, 'utf8')) as { errorType: string; errorMessage: string; stackTrace: string[] };
    assert.equal(brokenBody.errorType, 'java.lang.IllegalStateException');
    assert.equal(brokenBody.errorMessage, 'configuration missing: DB_URL');
    assert.match(brokenBody.stackTrace[0] ?? '', /^shop\.BrokenInit\.<clinit>\(BrokenInit\.java:\d+\)$/);

    const missing = await aws(s, ['lambda', 'invoke', '--function-name', 'no-class', '--payload', '{}', out]);
    assert.equal(JSON.parse(missing.stdout).FunctionError, 'Unhandled');
    const missingBody = JSON.parse(await readFile(out, 'utf8')) as Record<string, unknown>;
    assert.equal(missingBody.errorType, 'java.lang.ClassNotFoundException');
    assert.equal(missingBody.errorMessage, 'Class not found: shop.Missing');

    const noMethod = await invoke('no-method', '{}');
    assert.equal(noMethod.error, 'Unhandled');
    assert.match(noMethod.text, /No public method named absent with appropriate method signature found on class shop\.Statics/);
  });
});
