package org.crac;

/** Resources failed after the restore; their exceptions are suppressed ones of this. */
public class RestoreException extends Exception {
    private static final long serialVersionUID = 1L;

    public RestoreException() {
        super();
    }

    public RestoreException(String message) {
        super(message);
    }
}
