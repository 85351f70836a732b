package org.crac;

/** Something that must act around a checkpoint (CRaC's org.crac.Resource). */
public interface Resource {
    void beforeCheckpoint(Context<? extends Resource> context) throws Exception;

    void afterRestore(Context<? extends Resource> context) throws Exception;
}
