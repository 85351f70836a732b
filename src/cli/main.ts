import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { systemClock } from '../shared/clock.js';
import { resolveConfig, type StratusConfig } from '../shared/config.js';
import { errorMessage, StratusError } from '../shared/errors.js';
import { createLogger } from '../shared/log.js';
import { accountsCommand, ACCOUNTS_USAGE } from './accounts.js';
import { BACKUP_USAGE, backupCommand } from './backup.js';
import { USER_USAGE, userCommand } from './user-commands.js';
import { startAssignmentProcess, startFrontendProcess } from './cluster.js';
import { startPlacementProcess } from './placement-process.js';
import { startSingleMachine } from './single-machine.js';
import { clusterUp, CLUSTER_UP_USAGE } from './cluster-up.js';
import { startWorkerProcess } from './worker.js';
import { readWorkerBundle, workersCommand } from './workers-admin.js';

const USAGE = `Usage:
  stratus up     [--port 9001] [--internal-port 0] [--host 127.0.0.1] [--data-dir .stratus] [--keep-alive-ms 300000]
                 [--metrics-port 9464] [--metrics-host 127.0.0.1] [--otlp-traces-endpoint URL]
                 [--worker-memory-mb N] [--zone zone-a] [--warm-pool 0] [--warm-pool-runtimes nodejs20.x,python3.11] [--lease-ms 3000] [--account-concurrency 1000]
                 [--log-level info] [--function-logs stdout|store|off]
                 [--event-claim-ms 15000] [--event-retry-delays-ms 60000,120000]
                 [--image-max-bytes 10737418240] [--image-cache-mb 4096] [--snapstart criu|off] [--snapstart-clones 1]
                 [--sandbox-driver bubblewrap|gvisor] [--freeze-idle-after-ms 50|off]
                 [--code-gc-grace-ms 3600000] [--code-gc-interval-ms 600000]
                 [--worker-cache-idle-ms 600000] [--worker-cache-mb 20480]
                 [--keep-alive-policy fixed|histogram] [--keep-alive-bin-ms 60000] [--keep-alive-min-samples 10]
  stratus worker --control-plane URL[,URL...] --credentials FILE [--host 127.0.0.1] [--port 0]
                 [--data-dir .stratus-worker] [--worker-memory-mb N] [--warm-pool 0] [--warm-pool-runtimes nodejs20.x] [--heartbeat-ms 1000] [--zone zone-a]
                 [--log-level info] [--snapstart criu|off] [--snapstart-clones 1] [--sandbox-driver bubblewrap|gvisor]
                 [--freeze-idle-after-ms 50|off] [--worker-cache-idle-ms 600000] [--worker-cache-mb 20480]
  stratus frontend   --etcd URL[,URL...] [--host 127.0.0.1] [--port 9001] [--snapstart-orphan-ms 15000]
  stratus assignment --etcd URL[,URL...] [--host 127.0.0.1] [--port 0] [--id NAME] [--leader-ttl-ms 2000]
  stratus placement  --etcd URL[,URL...] [--host 127.0.0.1] [--port 0] [--id NAME] [--lease-ms 3000] [--leader-ttl-ms 2000]
                     [--code-gc-grace-ms 3600000] [--code-gc-interval-ms 600000]
                     [--worker-provider static|local-hosts] [--fleet-min 1] [--fleet-max 4] [--fleet-zones zone-a,...]
                     [--fleet-scale-out-above 0.75] [--fleet-scale-in-below 0.25] [--fleet-sustain-ms 30000]
                     [--fleet-drain-max-ms 300000] [--worker-memory-mb N] (memory of the workers it starts)
  stratus workers add --id W | revoke --id W | list   --etcd URL[,URL...] | --data-dir .stratus
                 (with --etcd each also takes --etcd-prefix /stratus/, and for etcd over TLS
                  --etcd-ca FILE [--etcd-cert FILE --etcd-key FILE])
${CLUSTER_UP_USAGE}
${ACCOUNTS_USAGE}
${USER_USAGE}
${BACKUP_USAGE}

up: starts Stratus on one machine (the Lambda API on http://HOST:PORT, and one worker in-process).
    More workers join its internal API (TLS, https://HOST:INTERNAL_PORT, printed at start; the
    port is ephemeral unless --internal-port is given) each with a credential of its own:
      npx stratus workers add --id W --data-dir DIR > W.json
      npx stratus worker --control-plane https://HOST:INTERNAL_PORT --credentials W.json
    Credentials: STRATUS_ACCESS_KEY_ID / STRATUS_SECRET_ACCESS_KEY, or a key pair generated once
    and kept in the data directory: the key of the administrative account, the only one that
    may manage accounts (\`stratus accounts\`).
    --sandbox-driver gvisor runs every function in gVisor (runsc); with the default, bubblewrap,
    only functions tagged stratus:sandbox=gvisor do (see docs/sandbox-isolation.md).
worker: starts a further worker agent that joins the control plane at --control-plane (a cluster's
    placement, or \`stratus up\`'s internal API: both https://) with --credentials FILE, the bundle
    \`stratus workers add\` printed (the worker's id comes from it).
--metrics-port, --metrics-host: where this process serves GET /metrics (Prometheus) for operators,
    never on the Lambda API's port (up: 9464; every other process: an ephemeral port unless given;
    each prints its URL). See docs/observability.md.
--otlp-traces-endpoint URL (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT): export spans of every invoke over
    OTLP/HTTP to this collector endpoint (e.g. http://127.0.0.1:4318/v1/traces); every process
    (up, frontend, assignment, worker) takes it. Off by default. See docs/observability.md.
--code-gc-grace-ms, --code-gc-interval-ms: code that no function, version or layer of any account
    uses is deleted once its last upload and the moment it stopped being used are both longer ago
    than the grace period (at least 1000; make it longer than any upload or image import), by
    \`stratus up\` or a cluster's placement process: swept at start, shortly after each change,
    and every interval.
    See docs/storage-lifecycle.md.
--keep-alive-policy: fixed (the default) keeps an idle environment --keep-alive-ms after its last
    invoke. histogram learns each function version's idle times (240 bins of --keep-alive-bin-ms,
    4 h by default) and, once --keep-alive-min-samples are concentrated enough, unloads the
    environment after an invoke and pre-warms one just before the next is due (Shahrad et al.,
    ATC'20); otherwise it keeps the fixed keep-alive. See ARCHITECTURE.md (assignment).
--freeze-idle-after-ms: an idle environment is frozen this long after its last invoke and thawed
    by the next one; off (or --freeze-idle-after-ms=-1) never freezes.
--worker-cache-idle-ms, --worker-cache-mb: a worker unmounts and deletes built code (code and layer
    images, image mounts, unpacked snapshots) that no environment has used for this long, and
    earlier, least recently used first, beyond this size.
frontend, assignment, placement: Stratus as a cluster on etcd (see README "Running a cluster").
    The first one to start makes the cluster's CA (kept in etcd); every internal connection is TLS.
    Frontends need STRATUS_ACCESS_KEY_ID and STRATUS_SECRET_ACCESS_KEY. Workers join with
    --control-plane <placement URL>[,<URL>...] --credentials <bundle>: run several placement
    replicas; one leads (elected in etcd) and the workers follow it.
cluster up: a whole cluster on this machine to try (root): 3-member etcd, 2 placement replicas sharing
    local-hosts workers, 3 assignment replicas, 2 frontends; prints the endpoint and credentials; Ctrl-C stops it.
--worker-provider: static (the default): workers join by themselves. local-hosts (root): placement
    starts its workers, each in its own network namespace on a bridge it makes (placement then
    listens on the bridge; replicas on one machine share the workers: give them one --data-dir), and scales the fleet with reserved memory between
    --fleet-min and --fleet-max. See docs/worker-providers.md.
workers: per-worker credentials, kept in the journal (only a hash of each secret): a cluster's etcd
    (--etcd), or without --etcd the SQLite journal of \`stratus up\`'s --data-dir (it may be
    running). add prints the bundle to start the worker with; revoke refuses it from then on and
    ends the worker's lease.
    See docs/cluster-security.md.
backup, restore: a single machine's data directory as one archive, taken while stratus up runs;
    restored into a new data directory on this or another machine. See docs/storage-lifecycle.md.`;

const OPTIONS = {
  port: { type: 'string' },
  'internal-port': { type: 'string' },
  host: { type: 'string' },
  'data-dir': { type: 'string' },
  'keep-alive-ms': { type: 'string' },
  'keep-alive-policy': { type: 'string' },
  'keep-alive-bin-ms': { type: 'string' },
  'keep-alive-min-samples': { type: 'string' },
  'worker-memory-mb': { type: 'string' },
  'lease-ms': { type: 'string' },
  'code-gc-grace-ms': { type: 'string' },
  'code-gc-interval-ms': { type: 'string' },
  'account-concurrency': { type: 'string' },
  'warm-pool': { type: 'string' },
  'snapstart-clones': { type: 'string' },
  'snapstart-orphan-ms': { type: 'string' },
  'warm-pool-runtimes': { type: 'string' },
  'heartbeat-ms': { type: 'string' },
  zone: { type: 'string' },
  'log-level': { type: 'string' },
  'function-logs': { type: 'string' },
  'event-claim-ms': { type: 'string' },
  'event-retry-delays-ms': { type: 'string' },
  'control-plane': { type: 'string' },
  id: { type: 'string' },
  etcd: { type: 'string' },
  'etcd-prefix': { type: 'string' },
  'leader-ttl-ms': { type: 'string' },
  'image-max-bytes': { type: 'string' },
  'image-cache-mb': { type: 'string' },
  snapstart: { type: 'string' },
  'sandbox-driver': { type: 'string' },
  'freeze-idle-after-ms': { type: 'string' },
  'worker-cache-idle-ms': { type: 'string' },
  'worker-cache-mb': { type: 'string' },
  credentials: { type: 'string' },
  'etcd-ca': { type: 'string' },
  'etcd-cert': { type: 'string' },
  'etcd-key': { type: 'string' },
  'metrics-host': { type: 'string' },
  'metrics-port': { type: 'string' },
  'otlp-traces-endpoint': { type: 'string' },
  'worker-provider': { type: 'string' },
  'fleet-min': { type: 'string' },
  'fleet-max': { type: 'string' },
  'fleet-zones': { type: 'string' },
  'fleet-scale-out-above': { type: 'string' },
  'fleet-scale-in-below': { type: 'string' },
  'fleet-sustain-ms': { type: 'string' },
  'fleet-drain-max-ms': { type: 'string' },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];

const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const mib = (v: string | undefined) => (v === undefined ? undefined : Number(v) * 1024 * 1024);

/** The one place the command line and environment become configuration. */
function configFrom(flags: Flags, env: NodeJS.ProcessEnv, defaultDataDir: string): StratusConfig {
  return resolveConfig({
    dataDir: flags['data-dir'] ?? defaultDataDir,
    logLevel: flags['log-level'],
    frontend: { host: flags.host, port: num(flags.port), snapStartOrphanMs: num(flags['snapstart-orphan-ms']) },
    metrics: { host: flags['metrics-host'], port: num(flags['metrics-port']) },
    observability: { otlpTracesEndpoint: flags['otlp-traces-endpoint'] ?? (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || undefined) },
    assignment: {
      keepAliveMs: num(flags['keep-alive-ms']),
      keepAlive: { policy: flags['keep-alive-policy'], binMs: num(flags['keep-alive-bin-ms']), minSamples: num(flags['keep-alive-min-samples']) },
    },
    concurrency: { accountLimit: num(flags['account-concurrency']) },
    codeCollector: { graceMs: num(flags['code-gc-grace-ms']), intervalMs: num(flags['code-gc-interval-ms']) },
    asyncInvoke: { claimMs: num(flags['event-claim-ms']), retryDelaysMs: flags['event-retry-delays-ms']?.split(',').map(Number) },
    worker: {
      zone: flags.zone, functionLogs: flags['function-logs'], memoryMb: num(flags['worker-memory-mb']), warmPoolSize: num(flags['warm-pool']), snapStartClones: num(flags['snapstart-clones']),
      warmPoolRuntimes: flags['warm-pool-runtimes']?.split(',').map((r) => r.trim()),
      freezeIdleAfterMs: flags['freeze-idle-after-ms'] === 'off' ? -1 : num(flags['freeze-idle-after-ms']),
      cacheIdleMs: num(flags['worker-cache-idle-ms']), cacheBytes: mib(flags['worker-cache-mb']),
    },
    images: { maxUncompressedBytes: num(flags['image-max-bytes']), chunkCacheBytes: mib(flags['image-cache-mb']) },
    sandbox: { snapStart: flags.snapstart, driver: flags['sandbox-driver'] },
    cluster: {
      internalPort: num(flags['internal-port']), leaseMs: num(flags['lease-ms']), heartbeatMs: num(flags['heartbeat-ms']),
      etcdEndpoints: flags.etcd?.split(',').filter(Boolean), etcdPrefix: flags['etcd-prefix'], leaderTtlMs: num(flags['leader-ttl-ms']),
      etcdTls: etcdTlsFrom(flags),
    },
    fleet: {
      provider: flags['worker-provider'], minWorkers: num(flags['fleet-min']), maxWorkers: num(flags['fleet-max']), zones: flags['fleet-zones']?.split(',').filter(Boolean),
      scaleOutAbove: num(flags['fleet-scale-out-above']), scaleInBelow: num(flags['fleet-scale-in-below']), sustainMs: num(flags['fleet-sustain-ms']), drainMaxMs: num(flags['fleet-drain-max-ms']),
    },
    credentials:
      env.STRATUS_ACCESS_KEY_ID && env.STRATUS_SECRET_ACCESS_KEY
        ? { accessKeyId: env.STRATUS_ACCESS_KEY_ID, secretAccessKey: env.STRATUS_SECRET_ACCESS_KEY }
        : undefined,
  });
}

/** --etcd-ca FILE [--etcd-cert FILE --etcd-key FILE]: a client certificate without the CA is refused, not silently dropped. */
function etcdTlsFrom(flags: Flags): StratusConfig['cluster']['etcdTls'] {
  const { 'etcd-ca': caFile, 'etcd-cert': certFile, 'etcd-key': keyFile } = flags;
  if (caFile) return { caFile, certFile, keyFile };
  if (certFile !== undefined || keyFile !== undefined) throw new StratusError('InvalidConfig', '--etcd-cert and --etcd-key need --etcd-ca FILE (the CA that issued the etcd members\' certificates)');
  return undefined;
}

async function up(config: StratusConfig): Promise<() => Promise<void>> {
  const log = createLogger(config.logLevel);
  const stratus = await startSingleMachine(config, log.child({ component: 'stratus' }));
  const { accessKeyId, secretAccessKey } = stratus.credentials;
  process.stdout.write(
    [
      `Stratus is listening on ${stratus.url} (data directory ${config.dataDir})`,
      `Metrics (Prometheus, for operators) on ${stratus.metricsUrl}`,
      stratus.credentialsValid
        ? `Credentials${stratus.credentialsGenerated ? ' (generated)' : ''} of the administrative account ${stratus.adminAccountId}: access key ${accessKeyId}, secret ${secretAccessKey}`
        : `The first key of the administrative account ${stratus.adminAccountId} (${accessKeyId}) was deleted; use another of its keys.`,
      'Use them with the AWS CLI:',
      `  export AWS_ACCESS_KEY_ID=${accessKeyId} AWS_SECRET_ACCESS_KEY=${secretAccessKey} AWS_DEFAULT_REGION=${config.identity.region}`,
      `  /usr/bin/aws lambda list-functions --endpoint-url ${stratus.url}`,
      `More accounts: npx stratus accounts create --name NAME --endpoint-url ${stratus.url}`,
      `Workers join on ${stratus.internalUrl} (TLS), each with its own credential:`,
      `  npx stratus workers add --id W --data-dir ${config.dataDir} > W.json`,
      `  npx stratus worker --control-plane ${stratus.internalUrl} --credentials W.json`,
      '',
    ].join('\n'),
  );
  return () => stratus.stop();
}

async function worker(config: StratusConfig, flags: Flags): Promise<() => Promise<void>> {
  if (!flags['control-plane']) throw new Error('stratus worker needs --control-plane URL');
  if (!flags.credentials) throw new Error('stratus worker needs --credentials FILE (the bundle `stratus workers add` printed)');
  const bundle = await readWorkerBundle(flags.credentials);
  if (flags.id !== undefined && flags.id !== bundle.workerId) throw new Error(`--id ${flags.id} is not the id of the credentials (${bundle.workerId})`);
  const log = createLogger(config.logLevel);
  const id = bundle.workerId;
  const running = await startWorkerProcess(config, {
    id, controlPlane: flags['control-plane'].replace(/\/$/, ''), bundle,
    host: config.frontend.host, port: num(flags.port) ?? 0, heartbeatMs: config.cluster.heartbeatMs,
  }, log.child({ component: 'worker', worker: id }), systemClock);
  process.stdout.write(`Stratus worker ${id} is serving on ${running.url} and joined ${flags['control-plane']}\nMetrics (Prometheus) on ${running.metricsUrl}\n`);
  return () => running.stop();
}

const CLUSTER_ROLES = { frontend: startFrontendProcess, assignment: startAssignmentProcess, placement: startPlacementProcess } as const;

/** `stratus frontend|assignment|placement`: one role of a cluster. */
async function clusterRole(role: keyof typeof CLUSTER_ROLES, config: StratusConfig, flags: Flags): Promise<() => Promise<void>> {
  const log = createLogger(config.logLevel).child({ component: role });
  const id = flags.id ?? `${role}-${hostname()}-${process.pid}`;
  const port = num(flags.port) ?? (role === 'frontend' ? config.frontend.port : 0);
  const running = await CLUSTER_ROLES[role](config, { id, host: config.frontend.host, port }, log, systemClock);
  process.stdout.write(`Stratus ${role} ${id} is serving on ${running.url}\nMetrics (Prometheus) on ${running.metricsUrl}\n`);
  return () => running.stop();
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'accounts') return accountsCommand(rest, process.env);
  if (command === 'cluster') return clusterUp(rest, process.env);
  if (command === 'invoke' || command === 'deploy' || command === 'logs' || command === 'top') return userCommand(command, rest, process.env);
  if (command === 'backup' || command === 'restore') {
    // SIGINT or SIGTERM stops the command at its next step, so what it staged is removed (a signal's default would leave it).
    // A second signal must not kill a restore's move half-way either; a third ends the command at
    // once, a way out of a step that hangs (it may leave the staging directory).
    const stop = new AbortController();
    let signals = 0;
    const abort = () => (++signals >= 3 ? process.exit(130) : stop.abort());
    process.on('SIGINT', abort).on('SIGTERM', abort);
    process.stdout.write(`${await backupCommand(command, rest, systemClock, stop.signal)}\n`);
    return 0;
  }
  if (command === 'workers') {
    const [action, ...more] = rest;
    const { values } = parseArgs({ args: more, options: OPTIONS });
    process.stdout.write(`${await workersCommand(action, values.id, configFrom(values, process.env, '.stratus'), systemClock)}\n`);
    return 0;
  }
  const isRole = (c: string | undefined): c is keyof typeof CLUSTER_ROLES => c !== undefined && c in CLUSTER_ROLES;
  if (command !== 'up' && command !== 'worker' && !isRole(command)) {
    process.stderr.write(`${USAGE}\n`);
    return command === undefined || command === '--help' || command === 'help' ? 0 : 2;
  }
  const { values } = parseArgs({ args: rest, options: OPTIONS });
  const parsed = configFrom(values, process.env, command === 'worker' ? '.stratus-worker' : '.stratus');
  // Each cluster role and extra worker serves its own metrics: on an ephemeral port unless given one.
  const config = command !== 'up' && values['metrics-port'] === undefined ? { ...parsed, metrics: { ...parsed.metrics, port: 0 } } : parsed;
  const stop = isRole(command) ? await clusterRole(command, config, values) : command === 'up' ? await up(config) : await worker(config, values);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  process.stdout.write('Stratus is stopping\n');
  await stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`stratus: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
