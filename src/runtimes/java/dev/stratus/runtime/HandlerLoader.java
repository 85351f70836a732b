package dev.stratus.runtime;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Type;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Resolves _HANDLER as Lambda's Java runtime does: `pkg.Class::method` (a public method taking
 * (), (I), (I, Context), (InputStream, OutputStream) or (InputStream, OutputStream, Context),
 * static or on an instance made once with the no-argument constructor; of several with that
 * name, the one with the most parameters), or `pkg.Class`, which must implement RequestHandler
 * or RequestStreamHandler. Loading the class runs its static initialization (the init phase).
 */
final class HandlerLoader {
    /** A resolved handler: the event's bytes in, the response's bytes out. */
    interface Invoker {
        byte[] invoke(byte[] event, Context context) throws Throwable;
    }

    /** A failure to load the handler, reported as this error type and message. */
    static final class LoadError extends Exception {
        private static final long serialVersionUID = 1L;
        final String errorType;

        LoadError(String errorType, String message, Throwable cause) {
            super(message, cause);
            this.errorType = errorType;
        }
    }

    private HandlerLoader() {
    }

    static Invoker load(String handler, ClassLoader loader) throws Throwable {
        String spec = handler == null ? "" : handler.trim();
        int sep = spec.indexOf("::");
        String className = sep >= 0 ? spec.substring(0, sep) : spec;
        String methodName = sep >= 0 ? spec.substring(sep + 2) : null;
        if (className.isEmpty()) throw new LoadError("java.lang.ClassNotFoundException", "Class not found: " + spec, null);
        Class<?> cls;
        try {
            cls = Class.forName(className, true, loader);
        } catch (ClassNotFoundException | NoClassDefFoundError e) {
            throw new LoadError("java.lang.ClassNotFoundException", "Class not found: " + className, e);
        }
        boolean wantsInterface = methodName == null || methodName.equals("handleRequest");
        if (wantsInterface && RequestStreamHandler.class.isAssignableFrom(cls)) {
            RequestStreamHandler h = (RequestStreamHandler) instance(cls);
            return (event, ctx) -> {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                h.handleRequest(new ByteArrayInputStream(event), out, ctx);
                return out.toByteArray();
            };
        }
        if (methodName == null && !RequestHandler.class.isAssignableFrom(cls)) {
            throw new LoadError("java.lang.IllegalArgumentException",
                "Class " + className + " does not implement RequestHandler or RequestStreamHandler; name its method as " + className + "::method", null);
        }
        Method method = pick(cls, methodName == null ? "handleRequest" : methodName);
        Object target = Modifier.isStatic(method.getModifiers()) ? null : instance(cls);
        method.setAccessible(true);
        Class<?>[] params = method.getParameterTypes();
        if (params.length >= 2 && params[0] == InputStream.class && params[1] == OutputStream.class) {
            return (event, ctx) -> {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                Object[] args = params.length == 3 ? new Object[] {new ByteArrayInputStream(event), out, ctx} : new Object[] {new ByteArrayInputStream(event), out};
                method.invoke(target, args);
                return out.toByteArray();
            };
        }
        Type inputType = params.length >= 1 ? method.getGenericParameterTypes()[0] : null;
        boolean takesContext = params.length == 2;
        boolean returnsVoid = method.getReturnType() == void.class;
        return (event, ctx) -> {
            Object[] args = new Object[params.length];
            if (inputType != null) args[0] = input(event, inputType);
            if (takesContext) args[1] = ctx;
            Object result = method.invoke(target, args);
            if (returnsVoid) result = null;
            return output(result);
        };
    }

    private static Object input(byte[] event, Type type) {
        if (type == InputStream.class) return new ByteArrayInputStream(event);
        try {
            String text = new String(event, StandardCharsets.UTF_8);
            return PojoMapper.fromJson(text.isBlank() ? null : Json.parse(text), type);
        } catch (IllegalArgumentException e) {
            throw new InputError(e);
        }
    }

    private static byte[] output(Object result) {
        if (result instanceof byte[] || result instanceof InputStream) {
            try {
                return result instanceof byte[] ? (byte[]) result : ((InputStream) result).readAllBytes();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        try {
            return Json.write(PojoMapper.toJson(result)).getBytes(StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new OutputError(e);
        }
    }

    /** The event could not be turned into the handler's input type. */
    static final class InputError extends RuntimeException {
        private static final long serialVersionUID = 1L;

        InputError(Throwable cause) {
            super("An error occurred during JSON parsing", cause);
        }
    }

    /** The handler's result could not be turned into JSON. */
    static final class OutputError extends RuntimeException {
        private static final long serialVersionUID = 1L;

        OutputError(Throwable cause) {
            super("An error occurred during JSON serialization of response", cause);
        }
    }

    private static Method pick(Class<?> cls, String name) throws LoadError {
        List<Method> candidates = new ArrayList<>();
        for (Method m : cls.getMethods()) {
            if (m.getName().equals(name) && !m.isBridge() && !m.isSynthetic() && acceptable(m.getParameterTypes())) candidates.add(m);
        }
        if (candidates.isEmpty()) {
            throw new LoadError("java.lang.NoSuchMethodException",
                "No public method named " + name + " with appropriate method signature found on class " + cls.getName(), null);
        }
        // The most parameters first; among equals, a concrete input type over Object (a RequestHandler's own).
        candidates.sort(Comparator.<Method>comparingInt(Method::getParameterCount).reversed()
            .thenComparing(m -> m.getParameterCount() > 0 && m.getParameterTypes()[0] == Object.class));
        return candidates.get(0);
    }

    private static boolean acceptable(Class<?>[] p) {
        switch (p.length) {
            case 0:
            case 1:
                return true;
            case 2:
                return p[1] == Context.class || (p[0] == InputStream.class && p[1] == OutputStream.class);
            case 3:
                return p[0] == InputStream.class && p[1] == OutputStream.class && p[2] == Context.class;
            default:
                return false;
        }
    }

    private static Object instance(Class<?> cls) throws Throwable {
        Constructor<?> ctor;
        try {
            ctor = cls.getDeclaredConstructor();
        } catch (NoSuchMethodException e) {
            throw new LoadError("java.lang.NoSuchMethodException", "Class " + cls.getName() + " has no public constructor without arguments", e);
        }
        ctor.setAccessible(true);
        try {
            return ctor.newInstance();
        } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
