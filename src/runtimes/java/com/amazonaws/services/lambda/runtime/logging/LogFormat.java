package com.amazonaws.services.lambda.runtime.logging;

/** The function's log format (its LoggingConfig.LogFormat). */
public enum LogFormat {
    JSON,
    TEXT;

    public static LogFormat fromString(String name) {
        return "JSON".equalsIgnoreCase(name == null ? "" : name.trim()) ? JSON : TEXT;
    }
}
