import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface RoleProcess {
  role: string;
  id: string;
  pid: number;
  url: string;
  output(): string;
  /** SIGKILL, as a crashed host. */
  kill(): Promise<void>;
  stop(): Promise<void>;
  /** Starts the same role again (same arguments) once this one has ended; pid and url change. */
  respawn(): Promise<void>;
}

export /** Spawns `stratus <role>` and waits for its "is serving on URL" line. */
async function spawnRole(role: string, id: string, args: string[], env: Record<string, string>): Promise<RoleProcess> {
  const child = spawn(process.execPath, [MAIN, role, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${role} ${id} did not start:\n${output}`)), 30_000);
    const check = () => {
      const m = /(?:serving on|listening on) (https?:\/\/[^\s]+)/.exec(output);
      if (m?.[1]) (clearTimeout(timer), resolve(m[1]));
    };
    child.stdout?.on('data', check);
    void exited.then(() => (clearTimeout(timer), reject(new Error(`${role} ${id} exited:\n${output}`))));
  });
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const self: RoleProcess = {
    role, id, pid: child.pid ?? 0, url, output: () => output, kill: () => end('SIGKILL'), stop: () => end('SIGTERM'),
    // Always this object, so that however often a role restarts, stop() reaches its latest process.
    async respawn() {
      await self.stop();
      const next = await spawnRole(role, id, args, env);
      Object.assign(self, { pid: next.pid, url: next.url, output: next.output, kill: next.kill, stop: next.stop });
    },
  };
  return self;
}
