package dev.stratus.runtime;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.crac.CheckpointException;
import org.crac.Context;
import org.crac.Resource;
import org.crac.RestoreException;

/**
 * org.crac's global context: the resources a function registers during its initialization.
 * Before the snapshot they are told beforeCheckpoint, last registered first; in each restored
 * clone afterRestore, in registration order. Resources are held strongly (a function need not
 * keep its own reference for its hook to run).
 */
public final class CracContext extends Context<Resource> {
    private static final CracContext GLOBAL = new CracContext();
    private final List<Resource> resources = new ArrayList<>();

    private CracContext() {
    }

    public static CracContext global() {
        return GLOBAL;
    }

    @Override
    public synchronized void register(Resource resource) {
        resources.add(Objects.requireNonNull(resource, "resource"));
    }

    private synchronized List<Resource> snapshot() {
        return new ArrayList<>(resources);
    }

    @Override
    public void beforeCheckpoint(Context<? extends Resource> context) throws CheckpointException {
        List<Resource> all = snapshot();
        CheckpointException failed = null;
        for (int i = all.size() - 1; i >= 0; i--) {
            try {
                all.get(i).beforeCheckpoint(this);
            } catch (Exception e) {
                if (failed == null) failed = new CheckpointException("a resource failed before the checkpoint");
                failed.addSuppressed(e);
            }
        }
        if (failed != null) throw failed;
    }

    @Override
    public void afterRestore(Context<? extends Resource> context) throws RestoreException {
        RestoreException failed = null;
        for (Resource resource : snapshot()) {
            try {
                resource.afterRestore(this);
            } catch (Exception e) {
                if (failed == null) failed = new RestoreException("a resource failed after the restore");
                failed.addSuppressed(e);
            }
        }
        if (failed != null) throw failed;
    }
}
