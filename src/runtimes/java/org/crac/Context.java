package org.crac;

/** A group of resources notified around a checkpoint; itself a resource (CRaC's org.crac.Context). */
public abstract class Context<R extends Resource> implements Resource {
    protected Context() {
    }

    public abstract void register(R resource);
}
