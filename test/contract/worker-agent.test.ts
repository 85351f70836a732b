import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/shared/log.js';
import { FencedWorkerAgent, RemoteWorkerAgent, WorkerApiServer, type WorkerAgent } from '../../src/worker/index.js';
import { AGENT_FUNCTION_CODE, agentFunctionProgram, fakeBootFailure } from '../helpers/agent-function.js';
import { FakeWorker } from '../helpers/fake-worker.js';
import { startLocalWorker } from '../helpers/local-worker.js';
import { agentHandle, runWorkerAgentContract } from './worker-agent.contract.js';

const TOKEN = 'worker-agent-contract-token-0123456789';
const FILES = { 'index.mjs': AGENT_FUNCTION_CODE };
const raiseFlagIn = (codeDir: string) => (name: string) => writeFile(join(codeDir, 'flags', name), '');

/** `agent` as an assignment leadership of `epoch` calls it in-process: every call carries the epoch. */
function actingFor(agent: WorkerAgent, epoch: number): WorkerAgent {
  return {
    id: agent.id,
    createEnvironment: (envId, spec, opts) => agent.createEnvironment(envId, spec, { ...opts, epoch }),
    invoke: (envId, inv) => agent.invoke(envId, { ...inv, epoch: inv.epoch ?? epoch }),
    destroyEnvironment: (envId) => agent.destroyEnvironment(envId, epoch),
    onEnvironmentLost: (listener) => agent.onEnvironmentLost(listener),
    environments: (e) => agent.environments(e ?? epoch),
    status: () => agent.status(),
    shutdown: () => agent.shutdown(),
  };
}

runWorkerAgentContract('LocalWorkerAgent', async () => {
  const worker = await startLocalWorker('contract-local', FILES);
  const fenced = new FencedWorkerAgent(worker.agent);
  return {
    ...agentHandle(fenced),
    actingFor: (epoch) => agentHandle(actingFor(fenced, epoch)),
    raiseFlag: raiseFlagIn(worker.codeDir),
    cleanup: () => worker.stop(),
  };
});

runWorkerAgentContract('RemoteWorkerAgent over the worker API', async () => {
  const worker = await startLocalWorker('contract-remote', FILES);
  const server = new WorkerApiServer(new FencedWorkerAgent(worker.agent), TOKEN, silentLogger());
  const url = `http://127.0.0.1:${(await server.listen('127.0.0.1', 0)).port}`;
  const handles: RemoteWorkerAgent[] = [];
  const handle = (epoch?: number) => {
    const agent = new RemoteWorkerAgent(worker.agent.id, url, TOKEN, worker.agent.status(), silentLogger());
    agent.fencingEpoch = epoch;
    handles.push(agent);
    return agent;
  };
  return {
    ...agentHandle(handle()),
    actingFor: (epoch) => agentHandle(handle(epoch)),
    raiseFlag: raiseFlagIn(worker.codeDir),
    async cleanup() {
      await Promise.all(handles.map((h) => h.shutdown()));
      await server.close();
      await worker.stop();
    },
  };
});

runWorkerAgentContract('FakeWorker', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'stratus-fake-worker-'));
  await mkdir(join(dir, 'flags'));
  const fake = new FakeWorker('contract-fake', 4096, { program: agentFunctionProgram(dir), bootFails: fakeBootFailure });
  return {
    ...agentHandle(fake),
    actingFor: (epoch) => agentHandle(fake.actingFor(epoch)),
    raiseFlag: raiseFlagIn(dir),
    async cleanup() {
      await fake.shutdown();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
