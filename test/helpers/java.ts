import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The runtime's jar (the com.amazonaws.services.lambda.runtime and org.crac APIs), built by scripts/setup.sh. */
export const RUNTIME_JAR = fileURLToPath(new URL('../../runtimes/java/lib/stratus-java-runtime.jar', import.meta.url));

/** Debian's OpenJDK 17, as the worker finds it. */
export function jdkHome(): string | undefined {
  const jvm = '/usr/lib/jvm';
  if (!existsSync(jvm)) return undefined;
  return readdirSync(jvm).filter((n) => /^java-17-openjdk-[a-z0-9]+$/.test(n)).map((n) => join(jvm, n)).find((h) => existsSync(join(h, 'bin', 'javac')));
}

/**
 * Compiles `sources` ({ 'example/Hello.java': '...' }) with javac against the runtime's jar and
 * returns the class files by their path ({ 'example/Hello.class': bytes }). With `jar`, the
 * classes are packed into one jar instead, returned as { [jar]: bytes }.
 */
export async function compileJava(sources: Record<string, string>, opts: { jar?: string; classPath?: string[] } = {}): Promise<Record<string, Buffer>> {
  const home = jdkHome();
  if (!home) throw new Error('no OpenJDK 17 (scripts/setup.sh installs openjdk-17-jdk-headless)');
  const dir = await mkdtemp(join(tmpdir(), 'stratus-javac-'));
  try {
    const src = join(dir, 'src');
    const out = join(dir, 'out');
    await mkdir(out);
    for (const [path, text] of Object.entries(sources)) {
      await mkdir(dirname(join(src, path)), { recursive: true });
      await writeFile(join(src, path), text);
    }
    const cp = [RUNTIME_JAR, ...(opts.classPath ?? [])].join(':');
    await run(join(home, 'bin', 'javac'), ['--release', '17', '-cp', cp, '-d', out, ...Object.keys(sources).map((p) => join(src, p))]).catch((err: { stderr?: string }) => {
      throw new Error(`javac failed:\n${err.stderr ?? String(err)}`);
    });
    if (opts.jar) {
      const jarPath = join(dir, 'out.jar');
      await run(join(home, 'bin', 'jar'), ['--create', '--file', jarPath, '-C', out, '.']);
      return { [opts.jar]: await readFile(jarPath) };
    }
    const files: Record<string, Buffer> = {};
    for (const path of await listFiles(out)) files[relative(out, path)] = await readFile(path);
    return files;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else out.push(path);
  }
  return out;
}
