import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** A real OCI registry (Debian's docker-registry) on an ephemeral loopback port, its storage in a temp dir. */
export interface LocalRegistry {
  /** host:port, as ImageUris name it. */
  host: string;
  /** Where the registry keeps blobs (tests corrupt one to check digest verification). */
  storageDir: string;
  stop(): Promise<void>;
}

export async function startRegistry(): Promise<LocalRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'stratus-registry-'));
  const port = await freePort();
  const storageDir = join(dir, 'storage');
  const config = [
    'version: 0.1', 'log:', '  level: error', '  accesslog:', '    disabled: true', 'storage:', '  delete:', '    enabled: true', '  filesystem:', `    rootdirectory: ${storageDir}`,
    'http:', `  addr: 127.0.0.1:${port}`, '',
  ].join('\n');
  await writeFile(join(dir, 'config.yml'), config);
  const child = spawn('/usr/bin/docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 100 || child.exitCode !== null) {
      await stop();
      throw new Error(`docker-registry did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host: `127.0.0.1:${port}`, storageDir, stop };
}

/** The digest of the manifest `repository:tag` names (as the registry serves it), e.g. to delete it. */
export async function manifestDigest(registry: LocalRegistry, repository: string, tag: string): Promise<string> {
  const res = await fetch(`http://${registry.host}/v2/${repository}/manifests/${tag}`, {
    method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
  });
  const digest = res.headers.get('docker-content-digest');
  if (!res.ok || !digest) throw new Error(`no manifest ${repository}:${tag} (HTTP ${res.status})`);
  return digest;
}

/** Deletes a manifest from the registry (by digest, as the distribution API requires). */
export async function deleteManifest(registry: LocalRegistry, repository: string, digest: string): Promise<void> {
  const res = await fetch(`http://${registry.host}/v2/${repository}/manifests/${digest}`, { method: 'DELETE' });
  if (res.status !== 202) throw new Error(`deleting ${repository}@${digest}: HTTP ${res.status}`);
}

/**
 * A registry in front of `registry` that can close repositories: a request for a locked one gets
 * 401 with a Basic challenge (as a private repository answers a client without credentials);
 * everything else is passed through. ImageUris name `host`.
 */
export interface RegistryGate {
  host: string;
  lock(repository: string): void;
  stop(): Promise<void>;
}

export async function startRegistryGate(registry: LocalRegistry): Promise<RegistryGate> {
  const locked = new Set<string>();
  const server = createHttpServer((req, res) => {
    const path = req.url ?? '/';
    if ([...locked].some((repo) => path.startsWith(`/v2/${repo}/`))) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="stratus-test"', 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    void fetch(`http://${registry.host}${path}`, { method: req.method, headers: { accept: String(req.headers.accept ?? '*/*') } }).then(
      async (upstream) => {
        const headers: Record<string, string> = {};
        upstream.headers.forEach((value, key) => {
          if (key !== 'content-encoding' && key !== 'transfer-encoding' && key !== 'connection') headers[key] = value;
        });
        res.writeHead(upstream.status, headers);
        res.end(Buffer.from(await upstream.arrayBuffer()));
      },
      () => {
        res.writeHead(502);
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    host: `127.0.0.1:${port}`,
    lock: (repository) => locked.add(repository),
    stop: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface ImageSpec {
  /** Build on this tag of the same layout (its layers are shared); none: an empty image. */
  base?: string;
  /** Files to write into the new layer: contents, or `{ copy: hostPath }`. */
  files?: Record<string, string | Buffer | { copy: string }>;
  /** Symlinks to make in the new layer (path: target), replacing what the base has there. */
  symlinks?: Record<string, string>;
  /** Paths of the base to delete (umoci records them as whiteouts). */
  remove?: string[];
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  architecture?: string;
}

/** An OCI image layout on disk, built with umoci, from which images are pushed with skopeo. */
export class ImageLayout {
  private constructor(readonly dir: string) {}

  /** A new layout in a temp dir, or (with `dir`) the layout kept there, created if absent. */
  static async create(dir?: string): Promise<ImageLayout> {
    const root = dir ?? (await mkdtemp(join(tmpdir(), 'stratus-oci-')));
    if (!dir || !(await exists(join(root, 'layout', 'index.json')))) {
      await mkdir(root, { recursive: true });
      await exec('umoci', ['init', '--layout', join(root, 'layout')]);
    }
    return new ImageLayout(root);
  }

  /** Whether `tag` was built in this layout already. */
  async has(tag: string): Promise<boolean> {
    const index = JSON.parse(await readFile(join(this.dir, 'layout', 'index.json'), 'utf8')) as { manifests?: { annotations?: Record<string, string> }[] };
    return (index.manifests ?? []).some((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  }

  /** Builds `tag`: the base's layers plus one new layer with the files, then the config. */
  async build(tag: string, spec: ImageSpec): Promise<void> {
    const layout = join(this.dir, 'layout');
    const bundle = join(this.dir, `bundle-${tag}`);
    if (spec.base) await exec('umoci', ['unpack', '--image', `${layout}:${spec.base}`, bundle]);
    else {
      await exec('umoci', ['new', '--image', `${layout}:${tag}`]);
      await exec('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle]);
    }
    const rootfs = join(bundle, 'rootfs');
    for (const path of spec.remove ?? []) await rm(join(rootfs, path), { recursive: true, force: true });
    for (const [path, content] of Object.entries(spec.files ?? {})) {
      const target = join(rootfs, path);
      await mkdir(dirname(target), { recursive: true });
      if (typeof content === 'object' && !Buffer.isBuffer(content)) await exec('cp', ['-R', '--preserve=all', '-H', content.copy, target]);
      else await writeFile(target, content);
    }
    for (const [path, to] of Object.entries(spec.symlinks ?? {})) {
      await rm(join(rootfs, path), { recursive: true, force: true });
      await mkdir(dirname(join(rootfs, path)), { recursive: true });
      await symlink(to, join(rootfs, path));
    }
    await exec('umoci', ['repack', '--image', `${layout}:${tag}`, bundle], { maxBuffer: 1 << 26 });
    await rm(bundle, { recursive: true, force: true });
    const args = ['config', '--image', `${layout}:${tag}`];
    if (spec.entrypoint) args.push(...(spec.entrypoint.length ? spec.entrypoint.map((e) => `--config.entrypoint=${e}`) : ['--clear=config.entrypoint']));
    for (const c of spec.cmd ?? []) args.push(`--config.cmd=${c}`);
    for (const e of spec.env ?? []) args.push(`--config.env=${e}`);
    if (spec.workingDir) args.push(`--config.workingdir=${spec.workingDir}`);
    if (spec.architecture) args.push(`--architecture=${spec.architecture}`);
    if (args.length > 3) await exec('umoci', args);
  }

  /** Pushes `tag` to `<registry>/<repository>` with skopeo (plain HTTP). */
  async push(tag: string, registry: LocalRegistry, repositoryAndTag: string): Promise<string> {
    const target = `${registry.host}/${repositoryAndTag}`;
    await exec('skopeo', ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', `oci:${join(this.dir, 'layout')}:${tag}`, `docker://${target}`], { maxBuffer: 1 << 26 });
    return target;
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

const RUNTIME_DIR = fileURLToPath(new URL('../../src/runtimes/nodejs/', import.meta.url));

/**
 * The files of a Node.js base image made from this machine: the node binary and the shared
 * libraries it links, and Stratus's own Node.js runtime client at /var/runtime as the entry
 * point (it speaks the Runtime API at AWS_LAMBDA_RUNTIME_API, like Lambda's base images).
 */
export async function nodeBaseFiles(): Promise<Record<string, { copy: string }>> {
  const files: Record<string, { copy: string }> = { '/usr/bin/node': { copy: process.execPath } };
  const { stdout } = await exec('ldd', [process.execPath]);
  for (const m of stdout.matchAll(/(\/\S+\.so[.\d]*)/g)) {
    const lib = m[1] ?? '';
    files[lib] = { copy: lib };
    if (lib.startsWith('/lib')) files[`/usr${lib}`] = { copy: lib };
  }
  for (const name of await readdir(RUNTIME_DIR)) {
    if (name.endsWith('.mjs') || name.endsWith('.cjs')) files[`/var/runtime/${name}`] = { copy: join(RUNTIME_DIR, name) };
  }
  return files;
}

export const NODE_ENTRYPOINT = ['/usr/bin/node', '/var/runtime/bootstrap.mjs'];

/** Stops a process this test started (by its pid), waiting for it. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
}
