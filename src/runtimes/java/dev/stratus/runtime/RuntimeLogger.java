package dev.stratus.runtime;

import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.logging.LogFormat;
import com.amazonaws.services.lambda.runtime.logging.LogLevel;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Map;

/**
 * LambdaLogger on the sandbox's stdout. TEXT: each message as it is, one per line. JSON (the
 * function's LoggingConfig): one record per line, {"timestamp", "message", "level",
 * "AWSRequestId"} (UNDEFINED for a message logged without a level), messages with a level below
 * AWS_LAMBDA_LOG_LEVEL dropped.
 */
final class RuntimeLogger implements LambdaLogger {
    private static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);
    private final FileOutputStream out = new FileOutputStream(FileDescriptor.out);
    private final LogFormat format;
    private final LogLevel minimum;
    private volatile String requestId;

    RuntimeLogger(Map<String, String> env) {
        format = LogFormat.fromString(env.get("AWS_LAMBDA_LOG_FORMAT"));
        minimum = LogLevel.fromString(env.get("AWS_LAMBDA_LOG_LEVEL"));
    }

    void setRequestId(String id) {
        requestId = id;
    }

    @Override
    public void log(String message) {
        log(message, LogLevel.UNDEFINED);
    }

    @Override
    public void log(byte[] message) {
        log(message, LogLevel.UNDEFINED);
    }

    @Override
    public void log(byte[] message, LogLevel level) {
        log(message == null ? "null" : new String(message, StandardCharsets.UTF_8), level);
    }

    @Override
    public void log(String message, LogLevel level) {
        String text = message == null ? "null" : message;
        String line;
        if (format == LogFormat.JSON) {
            if (level != LogLevel.UNDEFINED && level.ordinal() < minimum.ordinal()) return;
            StringBuilder sb = new StringBuilder("{\"timestamp\":");
            Json.quote(sb, TIMESTAMP.format(Instant.now()));
            sb.append(",\"message\":");
            Json.quote(sb, text);
            sb.append(",\"level\":\"").append(level.name()).append('"');
            if (requestId != null) {
                sb.append(",\"AWSRequestId\":");
                Json.quote(sb, requestId);
            }
            line = sb.append("}\n").toString();
        } else {
            line = text.endsWith("\n") ? text : text + "\n";
        }
        write(line);
    }

    synchronized void write(String line) {
        System.out.flush();
        try {
            out.write(line.getBytes(StandardCharsets.UTF_8));
        } catch (IOException ignored) {
            // stdout gone: nothing to log to
        }
    }
}
