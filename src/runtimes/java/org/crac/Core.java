package org.crac;

import dev.stratus.runtime.CracContext;

/**
 * The global CRaC context. On Lambda (and Stratus) with SnapStart, the runtime checkpoints once
 * the function's initialization is done: resources registered here get beforeCheckpoint (last
 * registered first) before the snapshot and afterRestore (in registration order) in each clone.
 */
public final class Core {
    private Core() {
    }

    public static Context<Resource> getGlobalContext() {
        return CracContext.global();
    }

    /** A checkpoint on request: not offered (the platform takes the snapshot after init). */
    public static void checkpointRestore() throws CheckpointException, RestoreException {
        throw new UnsupportedOperationException("checkpointRestore is not supported: SnapStart takes the snapshot after the function's initialization");
    }
}
