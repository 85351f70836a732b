import type { WorkerAgent } from '../../src/worker/index.js';

/** `agent` as an assignment leadership of `epoch` calls it: every call carries that epoch. */
export function actingFor(agent: WorkerAgent, epoch: number): WorkerAgent {
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
