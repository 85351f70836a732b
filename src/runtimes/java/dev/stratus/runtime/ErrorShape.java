package dev.stratus.runtime;

import java.lang.reflect.InvocationTargetException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A function error as Lambda's Java runtime reports it: {"errorMessage", "errorType",
 * "stackTrace": ["pkg.Class.method(File.java:12)", ...], "cause": {...}}. The frames are the
 * function's own: those from the runtime's reflective call of the handler on are left out.
 */
public final class ErrorShape {
    private static final int MAX_CAUSES = 16;
    public final String errorType;
    public final String errorMessage;
    private final Map<String, Object> document;

    private ErrorShape(String errorType, String errorMessage, Map<String, Object> document) {
        this.errorType = errorType;
        this.errorMessage = errorMessage;
        this.document = document;
    }

    /** The error a throwable of the function is (reflection's wrappers taken off). */
    public static ErrorShape of(Throwable t) {
        Throwable error = unwrap(t);
        Map<String, Object> doc = describe(error, 0);
        return new ErrorShape(error.getClass().getName(), String.valueOf(doc.get("errorMessage")), doc);
    }

    /** An error the runtime itself reports (no stack of the function's). */
    public static ErrorShape of(String errorType, String message, Throwable cause) {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("errorMessage", message);
        doc.put("errorType", errorType);
        doc.put("stackTrace", new ArrayList<>());
        if (cause != null) doc.put("cause", describe(unwrap(cause), 1));
        return new ErrorShape(errorType, message, doc);
    }

    static Throwable unwrap(Throwable t) {
        while ((t instanceof InvocationTargetException || t instanceof ExceptionInInitializerError) && t.getCause() != null) t = t.getCause();
        return t;
    }

    private static Map<String, Object> describe(Throwable t, int depth) {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("errorMessage", t.getMessage() == null ? t.getClass().getName() : t.getMessage());
        doc.put("errorType", t.getClass().getName());
        doc.put("stackTrace", frames(t));
        Throwable cause = t.getCause();
        if (cause != null && cause != t && depth < MAX_CAUSES) doc.put("cause", describe(cause, depth + 1));
        return doc;
    }

    private static List<String> frames(Throwable t) {
        List<String> out = new ArrayList<>();
        for (StackTraceElement e : t.getStackTrace()) {
            String cls = e.getClassName();
            if (cls.startsWith("jdk.internal.reflect.") || cls.startsWith("java.lang.reflect.") || cls.startsWith("dev.stratus.runtime.")) break;
            String where = e.isNativeMethod() ? "Native Method" : e.getFileName() == null ? "Unknown Source"
                : e.getLineNumber() >= 0 ? e.getFileName() + ":" + e.getLineNumber() : e.getFileName();
            out.add(cls + "." + e.getMethodName() + "(" + where + ")");
        }
        return out;
    }

    public String toJson() {
        return Json.write(document);
    }
}
