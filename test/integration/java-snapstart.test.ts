// SnapStart for java17: the JVM is checkpointed by CRIU after the function's initialization, with
// the CRaC hooks Lambda supports (org.crac.Core.getGlobalContext().register(Resource)):
// beforeCheckpoint before the snapshot (last registered first), afterRestore in every clone (in
// registration order). Clones share the initialization's state, not SecureRandom's output.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand, PublishVersionCommand, type GetFunctionConfigurationCommandOutput } from '@aws-sdk/client-lambda';
import { aws } from '../helpers/aws-cli.js';
import { compileJava } from '../helpers/java.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/r';

const WARMED = `
package snap;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.crac.Core;
import org.crac.Resource;

public class Warmed implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    static final List<String> events = new ArrayList<>();
    static final String initId = UUID.randomUUID().toString();
    static final Map<String, String> cache = new HashMap<>();
    // Registered through the global context only: the runtime keeps them.
    static {
        for (int i = 0; i < 50_000; i++) cache.put("k" + i, "row " + i);
        for (String name : new String[] {"pool", "client"}) {
            Core.getGlobalContext().register(new Resource() {
                public void beforeCheckpoint(org.crac.Context<? extends Resource> c) {
                    events.add("before:" + name);
                    if ("fail-before".equals(System.getenv("MODE"))) throw new IllegalStateException("cannot close the " + name);
                }
                public void afterRestore(org.crac.Context<? extends Resource> c) {
                    events.add("after:" + name);
                    if ("fail-after".equals(System.getenv("MODE"))) throw new IllegalStateException("cannot reopen the " + name);
                }
            });
        }
        events.add("init");
    }

    public Map<String, Object> handleRequest(Map<String, Object> in, Context context) {
        if (in.get("holdMs") != null) {
            try { Thread.sleep(((Number) in.get("holdMs")).longValue()); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("events", new ArrayList<>(events));
        out.put("initId", initId);
        out.put("rows", cache.size());
        out.put("row", cache.get("k123"));
        out.put("initType", System.getenv("AWS_LAMBDA_INITIALIZATION_TYPE"));
        out.put("uuid", UUID.randomUUID().toString());
        out.put("secure", new SecureRandom().nextLong());
        return out;
    }
}
`;

interface Clone { events: string[]; initId: string; rows: number; row: string; initType: string; uuid: string; secure: number }

async function untilSettled(s: StratusProcess, name: string, version: string): Promise<GetFunctionConfigurationCommandOutput> {
  for (let i = 0; ; i++) {
    const config = await s.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name, Qualifier: version }));
    if (config.State !== 'Pending') return config;
    if (i > 1200) throw new Error('the version stayed Pending');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('SnapStart for java17 (CRIU, CRaC hooks)', () => {
  let s: StratusProcess;
  let zip: Buffer;
  const invoke = async (name: string, payload: unknown = {}) => {
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: name, Qualifier: '1', LogType: 'Tail', Payload: Buffer.from(JSON.stringify(payload)) }));
    return { body: JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Record<string, unknown>, log: Buffer.from(out.LogResult ?? '', 'base64').toString(), error: out.FunctionError };
  };
  const publish = async (name: string, mode: string) => {
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: name, Runtime: 'java17', Role: ROLE, Handler: 'snap.Warmed', MemorySize: 512, Timeout: 30,
      Code: { ZipFile: zip }, SnapStart: { ApplyOn: 'PublishedVersions' }, Environment: { Variables: { MODE: mode } },
    }));
    return s.lambda.send(new PublishVersionCommand({ FunctionName: name }));
  };

  before(async () => {
    zip = await makeZip(await compileJava({ 'snap/Warmed.java': WARMED }));
    s = await startStratus({ keepAliveMs: 60_000 });
  });
  after(() => s.stop());

  test('publish checkpoints the initialized JVM; clones restore with its state, run afterRestore and report a Restore Duration', async () => {
    const published = await publish('warmed', 'ok');
    assert.equal(published.State, 'Pending');
    await untilSettled(s, 'warmed', '1');
    const cli = await aws(s, ['lambda', 'get-function-configuration', '--function-name', 'warmed', '--qualifier', '1']);
    assert.equal(cli.code, 0, cli.stderr);
    const config = JSON.parse(cli.stdout) as { State: string; StateReason?: string; SnapStart: unknown };
    assert.equal(config.State, 'Active', config.StateReason);
    assert.deepEqual(config.SnapStart, { ApplyOn: 'PublishedVersions', OptimizationStatus: 'On' });

    const runs = await Promise.all([1, 2].map(() => invoke('warmed', { holdMs: 300 })));
    const clones = runs.map((r) => r.body as unknown as Clone);
    for (const [i, run] of runs.entries()) {
      assert.equal(run.error, undefined, run.log);
      assert.match(run.log, /RESTORE_START Runtime Version: stratus:java17/);
      assert.match(run.log, /Restore Duration: [\d.]+ ms\tBilled Restore Duration: \d+ ms/);
      assert.doesNotMatch(run.log, /Init Duration/);
      const clone = clones[i] as Clone;
      assert.deepEqual(clone.events, ['init', 'before:client', 'before:pool', 'after:pool', 'after:client'],
        'beforeCheckpoint last registered first, once; afterRestore in registration order, in this clone');
      assert.equal(clone.rows, 50_000);
      assert.equal(clone.row, 'row 123');
      assert.equal(clone.initType, 'snap-start');
    }
    assert.equal(clones[0]?.initId, clones[1]?.initId, 'state from init is the snapshot\'s');
    assert.notEqual(clones[0]?.uuid, clones[1]?.uuid, 'UUID.randomUUID differs across clones');
    assert.notEqual(clones[0]?.secure, clones[1]?.secure, 'SecureRandom differs across clones');

    const warm = await invoke('warmed');
    assert.doesNotMatch(warm.log, /Restore Duration|Init Duration/);
  });

  test('a beforeCheckpoint that throws fails the version with the function\'s error', async () => {
    await publish('fails-before', 'fail-before');
    const config = await untilSettled(s, 'fails-before', '1');
    assert.equal(config.State, 'Failed');
    assert.equal(config.StateReasonCode, 'FunctionError');
    assert.match(config.StateReason ?? '', /cannot close the client/);
  });

  test('an afterRestore that throws fails the invoke with that error', async () => {
    await publish('fails-after', 'fail-after');
    const config = await untilSettled(s, 'fails-after', '1');
    assert.equal(config.State, 'Active', config.StateReason);
    const r = await invoke('fails-after');
    assert.equal(r.error, 'Unhandled');
    assert.equal(r.body.errorType, 'java.lang.IllegalStateException');
    assert.equal(r.body.errorMessage, 'cannot reopen the pool');
  });
});
