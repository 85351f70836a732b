// The java17 runtime's JSON reader/writer and POJO mapper (src/runtimes/java/dev/stratus/runtime),
// run on the JDK itself: a driver compiled in the test against the runtime's jar maps each case
// and prints what came out, or the error.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { compileJava, jdkHome, RUNTIME_JAR } from './helpers/java.js';

const run = promisify(execFile);

const DRIVER = `
package check;

import dev.stratus.runtime.Json;
import dev.stratus.runtime.PojoMapper;
import java.lang.reflect.Type;
import java.math.BigDecimal;
import java.util.*;

public class Driver {
    public enum Size { SMALL, LARGE }
    public record Item(String name, Size size, int[] counts, Set<String> labels, Optional<String> note) {}
    public static class Box {
        private List<Item> items;
        private Map<String, List<Long>> index;
        public double weight;
        private boolean sealed;
        private String URL;
        public List<Item> getItems() { return items; }
        public void setItems(List<Item> items) { this.items = items; }
        public Map<String, List<Long>> getIndex() { return index; }
        public void setIndex(Map<String, List<Long>> index) { this.index = index; }
        public boolean isSealed() { return sealed; }
        public void setSealed(boolean sealed) { this.sealed = sealed; }
        public String getURL() { return URL; }
        public void setURL(String url) { this.URL = url; }
    }
    public static class NoDefault { public NoDefault(int x) {} }
    public static class Self { public Self getMe() { return this; } }

    // Types to read into, named by the case.
    public static List<Map<String, Box>> listOfBoxes;
    public static byte[] bytes;

    static String attempt(String json, Type type) {
        try {
            Object value = PojoMapper.fromJson(Json.parse(json), type);
            return Json.write(PojoMapper.toJson(value));
        } catch (RuntimeException e) {
            return "ERROR " + e.getMessage();
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> out = new LinkedHashMap<>();
        out.put("box", attempt("{\\"items\\":[{\\"name\\":\\"a\\",\\"size\\":\\"LARGE\\",\\"counts\\":[1,2],\\"labels\\":[\\"x\\",\\"x\\",\\"y\\"],\\"note\\":null}],"
            + "\\"index\\":{\\"k\\":[1,9007199254740993]},\\"weight\\":1.5,\\"SEALED\\":true,\\"url\\":\\"http://e\\",\\"extra\\":{\\"deep\\":[1]}}", Box.class));
        out.put("nested", attempt("[{\\"b\\":{\\"weight\\":2}}]", Driver.class.getField("listOfBoxes").getGenericType()));
        out.put("bytes", attempt("\\"aGk=\\"", byte[].class));
        out.put("int-from-string", attempt("\\"42\\"", Integer.class));
        out.put("int-overflow", attempt("3000000000", int.class));
        out.put("bad-enum", attempt("\\"MEDIUM\\"", Size.class));
        out.put("null-primitive", attempt("null", long.class));
        out.put("no-default", attempt("{}", NoDefault.class));
        out.put("cycle", attempt("{}", Self.class));
        out.put("decimal", attempt("0.1", BigDecimal.class));
        out.put("double", attempt("1e3", double.class));
        out.put("unicode", attempt("\\"\\\\u00e9\\\\n\\\\\\"\\\\u2028\\"", String.class));
        try {
            Json.parse("{\\"a\\":1,}");
            out.put("trailing-comma", "accepted");
        } catch (IllegalArgumentException e) {
            out.put("trailing-comma", "ERROR " + e.getMessage());
        }
        StringBuilder deep = new StringBuilder();
        for (int i = 0; i < 100000; i++) deep.append('[');
        try {
            Json.parse(deep.toString());
            out.put("deep", "accepted");
        } catch (IllegalArgumentException e) {
            out.put("deep", "ERROR " + e.getMessage());
        }
        System.out.print(Json.write(out));
    }
}
`;

describe('java17 runtime: JSON and POJO mapping', { skip: jdkHome() ? false : 'needs OpenJDK 17 (scripts/setup.sh)' }, () => {
  let dir: string;
  let results: Record<string, string>;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stratus-java-mapper-'));
    const classes = await compileJava({ 'check/Driver.java': DRIVER });
    for (const [path, bytes] of Object.entries(classes)) {
      await run('mkdir', ['-p', join(dir, path, '..')]);
      await writeFile(join(dir, path), bytes);
    }
    const { stdout } = await run(join(jdkHome() as string, 'bin', 'java'), ['-Xss512k', '-cp', `${RUNTIME_JAR}:${dir}`, 'check.Driver']);
    results = JSON.parse(stdout) as Record<string, string>;
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('beans, records, enums, arrays, sets, Optional and maps of lists, both ways; unknown properties ignored', () => {
    assert.deepEqual(JSON.parse(results.box ?? ''), {
      items: [{ name: 'a', size: 'LARGE', counts: [1, 2], labels: ['x', 'y'] }],
      index: { k: [1, 9007199254740993] }, weight: 1.5, sealed: true, url: 'http://e',
    });
    assert.match(results.box ?? '', /9007199254740993/, 'a long is never a double on the way');
    assert.deepEqual(JSON.parse(results.nested ?? ''), [{ b: { weight: 2, sealed: false } }], 'primitives are written, null references are not');
  });

  test('scalars: base64 bytes, numbers from strings, exact decimals, escapes', () => {
    assert.equal(results.bytes, '"aGk="');
    assert.equal(results['int-from-string'], '42');
    assert.equal(results.decimal, '0.1');
    assert.equal(results.double, '1000.0');
    assert.equal(results['null-primitive'], '0');
    assert.equal(results.unicode, '"é\\n\\"\\u2028"');
  });

  test('what does not fit is an error naming the place, never a wrong value or a hang', () => {
    assert.match(results['int-overflow'] ?? '', /^ERROR .*out of range for int/);
    assert.match(results['bad-enum'] ?? '', /^ERROR .*expected one of \[SMALL, LARGE\]/);
    assert.match(results['no-default'] ?? '', /^ERROR .*no constructor without arguments/);
    assert.match(results.cycle ?? '', /^ERROR .*nested too deeply/);
    assert.match(results['trailing-comma'] ?? '', /^ERROR /);
    assert.match(results.deep ?? '', /^ERROR JSON nested too deeply/);
  });
});
