package org.crac;

/** Resources failed before the checkpoint; their exceptions are suppressed ones of this. */
public class CheckpointException extends Exception {
    private static final long serialVersionUID = 1L;

    public CheckpointException() {
        super();
    }

    public CheckpointException(String message) {
        super(message);
    }
}
