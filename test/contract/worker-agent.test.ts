import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/shared/log.js';
import { FencedWorkerAgent, RemoteWorkerAgent, WorkerApiServer } from '../../src/worker/index.js';
import { InternalClient } from '../../src/shared/internal-client.js';
import { actingFor } from '../helpers/acting-for.js';
import { AGENT_FUNCTION_CODE, agentFunctionProgram, fakeBootFailure } from '../helpers/agent-function.js';
import { FakeWorker } from '../helpers/fake-worker.js';
import { startLocalWorker } from '../helpers/local-worker.js';
import { testTrust } from '../helpers/test-trust.js';
import { agentHandle, runWorkerAgentContract } from './worker-agent.contract.js';

const FILES = { 'index.mjs': AGENT_FUNCTION_CODE };
const raiseFlagIn = (codeDir: string) => (name: string) => writeFile(join(codeDir, 'flags', name), '');

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

runWorkerAgentContract('RemoteWorkerAgent over the worker API (TLS, the control-plane credential)', async () => {
  const worker = await startLocalWorker('contract-remote', FILES);
  const trust = testTrust();
  const server = new WorkerApiServer(new FencedWorkerAgent(worker.agent), trust.authenticate, silentLogger(), trust.workerIdentity(worker.agent.id));
  const url = `https://127.0.0.1:${(await server.listen('127.0.0.1', 0)).port}`;
  const handles: RemoteWorkerAgent[] = [];
  const handle = () => {
    const agent = new RemoteWorkerAgent(worker.agent.id, url, new InternalClient(trust.controlPlane), worker.agent.status(), silentLogger());
    handles.push(agent);
    return agent;
  };
  return {
    ...agentHandle(handle()),
    actingFor: (epoch) => agentHandle(actingFor(handle(), epoch)),
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
    actingFor: (epoch) => agentHandle(actingFor(fake, epoch)),
    raiseFlag: raiseFlagIn(dir),
    async cleanup() {
      await fake.shutdown();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
