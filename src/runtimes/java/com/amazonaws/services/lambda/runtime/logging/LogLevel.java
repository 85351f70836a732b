package com.amazonaws.services.lambda.runtime.logging;

/** Log levels of LambdaLogger, lowest first (UNDEFINED: a line without a level). */
public enum LogLevel {
    UNDEFINED,
    TRACE,
    DEBUG,
    INFO,
    WARN,
    ERROR,
    FATAL;

    /** The level named by AWS_LAMBDA_LOG_LEVEL (case-insensitive), or INFO. */
    public static LogLevel fromString(String name) {
        if (name == null) return INFO;
        try {
            return LogLevel.valueOf(name.trim().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return INFO;
        }
    }
}
