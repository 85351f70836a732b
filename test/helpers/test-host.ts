import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

/**
 * A test host: a network namespace of our own joined to this machine by a veth pair, with an
 * HTTP server inside. Addresses come from 198.18.0.0/15 (reserved for network tests) and exist
 * only between this machine and that namespace. Everything is removed by `stop()`.
 */
export interface TestHost {
  address: string;
  port: number;
  stop(): Promise<void>;
}

export async function startTestHost(): Promise<TestHost> {
  const n = process.pid % 250;
  const ns = `stratus-th-${process.pid}`;
  const hostIf = `sth${process.pid}h`.slice(0, 15);
  const nsIf = `sth${process.pid}n`.slice(0, 15);
  const [hostAddr, nsAddr] = [`198.18.${n}.1`, `198.18.${n}.2`];
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
  ip('netns', 'add', ns);
  let server: ChildProcess | undefined;
  const stop = async () => {
    if (server?.pid && server.exitCode === null) {
      server.kill('SIGKILL');
      await new Promise((r) => server?.once('exit', r));
    }
    try { ip('link', 'del', hostIf); } catch { /* went with the namespace */ }
    try { ip('netns', 'del', ns); } catch { /* already gone */ }
  };
  try {
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    ip('link', 'set', nsIf, 'netns', ns);
    ip('addr', 'add', `${hostAddr}/30`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    ip('-n', ns, 'addr', 'add', `${nsAddr}/30`, 'dev', nsIf);
    ip('-n', ns, 'link', 'set', nsIf, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    const code = `require('http').createServer((q, r) => r.end('hello from the test host')).listen(8080, '${nsAddr}', () => console.log('ready'))`;
    server = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      server?.stdout?.once('data', () => resolve());
      server?.once('exit', (c) => reject(new Error(`test host server exited (${c})`)));
    });
    return { address: nsAddr, port: 8080, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
