// A hostile java17 function, compiled in the test: from inside its real sandbox it tries to read
// the host's files, write its own code, the runtime and the JDK, and take more memory than its
// MemorySize (on the JVM's heap and natively). Each attempt must fail; the next invoke is served.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { compileJava, jdkHome } from '../helpers/java.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/r';
/** Where Stratus is installed (this file is dist/test/integration/). */
const INSTALL_DIR = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');

const ATTACK = `
package evil;

import com.amazonaws.services.lambda.runtime.Context;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public class Attack {
    static String outcome(Exception e) {
        return e.getClass().getSimpleName() + ": " + e.getMessage();
    }

    @SuppressWarnings("unchecked")
    public static Map<String, Object> handle(Map<String, Object> event, Context context) throws Exception {
        Map<String, Object> out = new LinkedHashMap<>();
        switch ((String) event.get("attack")) {
            case "read":
                for (String p : (List<String>) event.get("paths")) {
                    try {
                        Path path = Path.of(p);
                        out.put(p, Files.isDirectory(path) ? "LISTED " + Files.list(path).count() : "READ " + Files.readAllBytes(path).length);
                    } catch (Exception e) {
                        out.put(p, outcome(e));
                    }
                }
                return out;
            case "write":
                for (String p : (List<String>) event.get("paths")) {
                    try {
                        Files.write(Path.of(p), "owned".getBytes());
                        out.put(p, "WROTE");
                    } catch (Exception e) {
                        out.put(p, outcome(e));
                    }
                }
                return out;
            case "identity":
                for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                    if (line.startsWith("Uid:") || line.startsWith("CapEff:")) out.put(line.substring(0, line.indexOf(':')), line.substring(line.indexOf(':') + 1).trim());
                }
                out.put("mountinfo", Files.readString(Path.of("/proc/self/mountinfo")));
                return out;
            case "heap": {
                List<byte[]> keep = new ArrayList<>();
                for (int i = 0; i < 128; i++) keep.add(new byte[16 << 20]);
                out.put("kept", keep.size());
                return out;
            }
            case "native": {
                Field f = Class.forName("sun.misc.Unsafe").getDeclaredField("theUnsafe");
                f.setAccessible(true);
                Object unsafe = f.get(null);
                var allocate = unsafe.getClass().getMethod("allocateMemory", long.class);
                var set = unsafe.getClass().getMethod("setMemory", long.class, long.class, byte.class);
                int mb = ((Number) event.get("mb")).intValue();
                for (int i = 0; i < mb / 16; i++) {
                    long address = (Long) allocate.invoke(unsafe, 16L << 20);
                    set.invoke(unsafe, address, 16L << 20, (byte) 1);
                }
                out.put("allocatedMb", mb);
                return out;
            }
            default:
                out.put("ok", true);
                return out;
        }
    }
}
`;

describe('a hostile java17 function, from inside its sandbox', () => {
  let s: StratusProcess;
  const invoke = async (event: unknown) => {
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: 'evil', Payload: Buffer.from(JSON.stringify(event)), LogType: 'Tail' }));
    return { error: out.FunctionError, body: JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Record<string, unknown>, log: Buffer.from(out.LogResult ?? '', 'base64').toString() };
  };

  before(async () => {
    s = await startStratus();
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'evil', Runtime: 'java17', Role: ROLE, Handler: 'evil.Attack::handle', Timeout: 30, MemorySize: 256,
      Code: { ZipFile: await makeZip(await compileJava({ 'evil/Attack.java': ATTACK })) },
    }));
  });
  after(() => s.stop());

  test('the host\'s files are out of reach: data directory, installation, /etc/shadow, /root, stratus-init\'s environment', async () => {
    const jdk = jdkHome() ?? '/usr/lib/jvm';
    const secret = [s.dataDir, `${INSTALL_DIR}/package.json`, INSTALL_DIR, '/etc/shadow', '/root', '/proc/1/environ', '/home'];
    const r = await invoke({ attack: 'read', paths: [...secret, `${jdk}/release`] });
    assert.equal(r.error, undefined, JSON.stringify(r.body));
    for (const path of secret) assert.match(String(r.body[path]), /NoSuchFileException|AccessDeniedException/, `${path}: ${r.body[path]}`);
    assert.match(String(r.body[`${jdk}/release`]), /^READ \d+/, 'the JDK itself is readable (the attack could have read)');
  });

  test('its code, the runtime client and the JDK are read-only; only /tmp is writable', async () => {
    const jdk = jdkHome() ?? '/usr/lib/jvm/java-17-openjdk-amd64';
    const protectedPaths = ['/var/task/evil/Attack.class', '/var/task/planted.class', '/var/runtime/lib/stratus-java-runtime.jar',
      `${jdk}/release`, '/etc/java-17-openjdk/security/java.security'];
    const r = await invoke({ attack: 'write', paths: [...protectedPaths, '/tmp/scratch.txt'] });
    assert.equal(r.error, undefined, JSON.stringify(r.body));
    for (const path of protectedPaths) assert.match(String(r.body[path]), /Read-only file system|AccessDeniedException/, `${path}: ${r.body[path]}`);
    assert.equal(r.body['/tmp/scratch.txt'], 'WROTE');
    // The code is unchanged: the same class still answers.
    assert.equal((await invoke({ attack: 'none' })).body.ok, true);
  });

  test('the JVM runs as the sandbox\'s unprivileged user, with no capabilities and no host path mounted', async () => {
    const r = await invoke({ attack: 'identity' });
    assert.match(String(r.body.Uid), /^993\s+993\s+993\s+993$/);
    assert.equal(r.body.CapEff, '0000000000000000');
    for (const host of [s.dataDir, INSTALL_DIR]) assert.equal(String(r.body.mountinfo).includes(host), false, `${host} in mountinfo`);
  });

  test('filling the heap is the function\'s own OutOfMemoryError, within MemorySize; the JVM serves on', async () => {
    const r = await invoke({ attack: 'heap' });
    assert.equal(r.error, 'Unhandled');
    assert.equal(r.body.errorType, 'java.lang.OutOfMemoryError');
    assert.match(String(r.body.errorMessage), /Java heap space/);
    const used = Number(/Max Memory Used: (\d+) MB/.exec(r.log)?.[1]);
    assert.ok(used > 128 && used <= 256, `Max Memory Used ${used} MB: the heap grew to its 85% and no further`);
    const next = await invoke({ attack: 'none' });
    assert.equal(next.error, undefined, JSON.stringify(next.body) + next.log);
    assert.doesNotMatch(next.log, /INIT_START/, 'the same JVM');
  });

  test('native memory beyond MemorySize kills the sandbox with Runtime.OutOfMemory, and the next invoke works', async () => {
    const r = await invoke({ attack: 'native', mb: 1024 });
    assert.equal(r.error, 'Unhandled');
    assert.equal(r.body.errorType, 'Runtime.OutOfMemory', JSON.stringify(r.body));
    assert.match(String(r.body.errorMessage), /Runtime exited with error: signal: killed/);
    const used = Number(/Max Memory Used: (\d+) MB/.exec(r.log)?.[1]);
    assert.ok(used <= 256, `Max Memory Used ${used} MB within the 256 MB limit`);
    const next = await invoke({ attack: 'native', mb: 32 });
    assert.equal(next.error, undefined, JSON.stringify(next.body));
    assert.equal(next.body.allocatedMb, 32);
  });
});
