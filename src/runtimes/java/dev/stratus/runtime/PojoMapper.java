package dev.stratus.runtime;

import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.lang.reflect.WildcardType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Turns parsed JSON (Json's plain values) into a handler's declared input type, and a handler's
 * result back into plain values, the way Lambda's Java runtime does with its POJO serializer:
 * strings, numbers (primitive and boxed, BigDecimal, BigInteger), booleans, enums by name, lists,
 * sets, arrays, maps, records (canonical constructor) and beans (no-argument constructor, then
 * setters or fields; properties it does not know are ignored, names matched case-insensitively
 * when not exactly). Output: beans by their getters and public fields, nulls left out.
 */
public final class PojoMapper {
    private static final int MAX_DEPTH = 256;

    private PojoMapper() {
    }

    // ---- JSON → Java ----

    public static Object fromJson(Object tree, Type type) {
        return read(tree, type, "$");
    }

    private static Object read(Object tree, Type type, String path) {
        if (type instanceof WildcardType) type = ((WildcardType) type).getUpperBounds()[0];
        Class<?> raw = rawClass(type);
        if (raw == Object.class) return natural(tree);
        if (tree == null) return raw.isPrimitive() ? defaultValue(raw) : null;
        if (raw == String.class) {
            if (tree instanceof Map || tree instanceof List) throw mismatch(path, "a string", tree);
            return tree.toString();
        }
        if (raw.isPrimitive() || Number.class.isAssignableFrom(raw) || raw == Boolean.class || raw == Character.class) return scalar(tree, raw, path);
        if (raw.isEnum()) return enumValue(tree, raw, path);
        if (Map.class.isAssignableFrom(raw)) return readMap(tree, type, raw, path);
        if (Collection.class.isAssignableFrom(raw)) return readCollection(tree, type, raw, path);
        if (raw.isArray()) return readArray(tree, type, raw, path);
        if (!(tree instanceof Map)) throw mismatch(path, "an object", tree);
        @SuppressWarnings("unchecked")
        Map<String, Object> object = (Map<String, Object>) tree;
        return raw.isRecord() ? readRecord(object, raw, path) : readBean(object, raw, path);
    }

    private static IllegalArgumentException mismatch(String path, String wanted, Object tree) {
        String got = tree instanceof Map ? "an object" : tree instanceof List ? "an array" : tree instanceof String ? "a string" : String.valueOf(tree);
        return new IllegalArgumentException("Cannot deserialize " + path + ": expected " + wanted + ", got " + got);
    }

    static Class<?> rawClass(Type type) {
        if (type instanceof Class) return (Class<?>) type;
        if (type instanceof ParameterizedType) return (Class<?>) ((ParameterizedType) type).getRawType();
        if (type instanceof GenericArrayType) return Array.newInstance(rawClass(((GenericArrayType) type).getGenericComponentType()), 0).getClass();
        return Object.class;
    }

    private static Type typeArgument(Type type, int index) {
        if (type instanceof ParameterizedType) {
            Type[] args = ((ParameterizedType) type).getActualTypeArguments();
            if (index < args.length) return args[index];
        }
        return Object.class;
    }

    /** What Jackson gives an Object: ints as Integer when they fit, decimals as Double. */
    private static Object natural(Object tree) {
        if (tree instanceof Long) {
            long v = (Long) tree;
            return v == (int) v ? (Object) (int) v : tree;
        }
        if (tree instanceof BigDecimal) return ((BigDecimal) tree).doubleValue();
        if (tree instanceof Map) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) tree).entrySet()) out.put((String) e.getKey(), natural(e.getValue()));
            return out;
        }
        if (tree instanceof List) {
            List<Object> out = new ArrayList<>();
            for (Object o : (List<?>) tree) out.add(natural(o));
            return out;
        }
        return tree;
    }

    private static Object defaultValue(Class<?> raw) {
        if (raw == boolean.class) return false;
        if (raw == char.class) return '\0';
        return scalar(0L, raw, "$");
    }

    private static Object scalar(Object tree, Class<?> raw, String path) {
        if (raw == boolean.class || raw == Boolean.class) {
            if (tree instanceof Boolean) return tree;
            if ("true".equals(tree) || "false".equals(tree)) return Boolean.valueOf((String) tree);
            throw mismatch(path, "a boolean", tree);
        }
        if (raw == char.class || raw == Character.class) {
            if (tree instanceof String && ((String) tree).length() == 1) return ((String) tree).charAt(0);
            throw mismatch(path, "a one-character string", tree);
        }
        BigDecimal n;
        try {
            if (tree instanceof String) n = new BigDecimal(((String) tree).trim());
            else if (tree instanceof Long) n = BigDecimal.valueOf((Long) tree);
            else if (tree instanceof BigInteger) n = new BigDecimal((BigInteger) tree);
            else if (tree instanceof BigDecimal) n = (BigDecimal) tree;
            else throw mismatch(path, "a number", tree);
        } catch (NumberFormatException e) {
            throw mismatch(path, "a number", tree);
        }
        try {
            if (raw == int.class || raw == Integer.class) return n.toBigInteger().intValueExact();
            if (raw == long.class || raw == Long.class) return n.toBigInteger().longValueExact();
            if (raw == short.class || raw == Short.class) return n.toBigInteger().shortValueExact();
            if (raw == byte.class || raw == Byte.class) return n.toBigInteger().byteValueExact();
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("Cannot deserialize " + path + ": " + n + " is out of range for " + raw.getSimpleName());
        }
        if (raw == double.class || raw == Double.class) return n.doubleValue();
        if (raw == float.class || raw == Float.class) return n.floatValue();
        if (raw == BigInteger.class) return n.toBigInteger();
        if (raw == BigDecimal.class || raw == Number.class) return n;
        throw new IllegalArgumentException("Cannot deserialize " + path + " into " + raw.getName());
    }

    private static Object enumValue(Object tree, Class<?> raw, String path) {
        if (tree instanceof String) {
            for (Object constant : raw.getEnumConstants()) if (((Enum<?>) constant).name().equals(tree)) return constant;
        }
        throw mismatch(path, "one of " + java.util.Arrays.toString(raw.getEnumConstants()), tree);
    }

    private static Object readMap(Object tree, Type type, Class<?> raw, String path) {
        if (!(tree instanceof Map)) throw mismatch(path, "an object", tree);
        Type keyType = typeArgument(type, 0);
        Type valueType = typeArgument(type, 1);
        Map<Object, Object> out = raw.isInterface() || Modifier.isAbstract(raw.getModifiers()) ? new LinkedHashMap<>() : instantiate(raw);
        for (Map.Entry<?, ?> e : ((Map<?, ?>) tree).entrySet()) {
            String key = (String) e.getKey();
            Object k = rawClass(keyType) == Object.class ? key : read(key, keyType, path);
            out.put(k, read(e.getValue(), valueType, path + "." + key));
        }
        return out;
    }

    private static Object readCollection(Object tree, Type type, Class<?> raw, String path) {
        if (!(tree instanceof List)) throw mismatch(path, "an array", tree);
        Type elementType = typeArgument(type, 0);
        Collection<Object> out;
        if (!raw.isInterface() && !Modifier.isAbstract(raw.getModifiers())) out = instantiate(raw);
        else if (SortedSet.class.isAssignableFrom(raw)) out = new TreeSet<>();
        else if (Set.class.isAssignableFrom(raw)) out = new LinkedHashSet<>();
        else out = new ArrayList<>();
        int i = 0;
        for (Object element : (List<?>) tree) out.add(read(element, elementType, path + "[" + i++ + "]"));
        return out;
    }

    private static Object readArray(Object tree, Type type, Class<?> raw, String path) {
        if (raw == byte[].class && tree instanceof String) return java.util.Base64.getDecoder().decode((String) tree);
        if (!(tree instanceof List)) throw mismatch(path, "an array", tree);
        List<?> list = (List<?>) tree;
        Type componentType = type instanceof GenericArrayType ? ((GenericArrayType) type).getGenericComponentType() : raw.getComponentType();
        Object array = Array.newInstance(raw.getComponentType(), list.size());
        for (int i = 0; i < list.size(); i++) Array.set(array, i, read(list.get(i), componentType, path + "[" + i + "]"));
        return array;
    }

    private static Object readRecord(Map<String, Object> object, Class<?> raw, String path) {
        RecordComponent[] components = raw.getRecordComponents();
        Class<?>[] types = new Class<?>[components.length];
        Object[] args = new Object[components.length];
        for (int i = 0; i < components.length; i++) {
            RecordComponent c = components[i];
            types[i] = c.getType();
            String key = matchingKey(object, c.getName());
            args[i] = read(key == null ? null : object.get(key), c.getGenericType(), path + "." + c.getName());
        }
        try {
            Constructor<?> ctor = raw.getDeclaredConstructor(types);
            ctor.setAccessible(true);
            return ctor.newInstance(args);
        } catch (ReflectiveOperationException e) {
            throw new IllegalArgumentException("Cannot construct record " + raw.getName() + ": " + rootMessage(e), e);
        }
    }

    private static Object readBean(Map<String, Object> object, Class<?> raw, String path) {
        Object bean = instantiate(raw);
        Map<String, Method> setters = new LinkedHashMap<>();
        for (Method m : raw.getMethods()) {
            if (m.getParameterCount() == 1 && m.getName().length() > 3 && m.getName().startsWith("set") && !Modifier.isStatic(m.getModifiers())) {
                setters.putIfAbsent(propertyName(m.getName().substring(3)), m);
            }
        }
        for (Map.Entry<String, Object> e : object.entrySet()) {
            String name = e.getKey();
            Method setter = lookup(setters, name);
            try {
                if (setter != null) {
                    setter.invoke(bean, read(e.getValue(), setter.getGenericParameterTypes()[0], path + "." + name));
                    continue;
                }
                Field field = findField(raw, name);
                if (field == null) continue;
                field.setAccessible(true);
                field.set(bean, read(e.getValue(), field.getGenericType(), path + "." + name));
            } catch (ReflectiveOperationException ex) {
                throw new IllegalArgumentException("Cannot set " + path + "." + name + " on " + raw.getName() + ": " + rootMessage(ex), ex);
            }
        }
        return bean;
    }

    private static <T> T lookup(Map<String, T> byName, String name) {
        T exact = byName.get(name);
        if (exact != null) return exact;
        for (Map.Entry<String, T> e : byName.entrySet()) if (e.getKey().equalsIgnoreCase(name)) return e.getValue();
        return null;
    }

    private static String matchingKey(Map<String, Object> object, String name) {
        if (object.containsKey(name)) return name;
        for (String key : object.keySet()) if (key.equalsIgnoreCase(name)) return key;
        return null;
    }

    private static Field findField(Class<?> raw, String name) {
        for (Class<?> c = raw; c != null && c != Object.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (!Modifier.isStatic(f.getModifiers()) && !Modifier.isFinal(f.getModifiers()) && f.getName().equalsIgnoreCase(name)) return f;
            }
        }
        return null;
    }

    @SuppressWarnings("unchecked")
    private static <T> T instantiate(Class<?> raw) {
        try {
            Constructor<?> ctor = raw.getDeclaredConstructor();
            ctor.setAccessible(true);
            return (T) ctor.newInstance();
        } catch (NoSuchMethodException e) {
            throw new IllegalArgumentException("Cannot deserialize into " + raw.getName() + ": it has no constructor without arguments");
        } catch (ReflectiveOperationException e) {
            throw new IllegalArgumentException("Cannot construct " + raw.getName() + ": " + rootMessage(e), e);
        }
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null) t = t.getCause();
        return t.toString();
    }

    /** "URL" → "url", "Name" → "name", "xValue" → "xValue" (Jackson's default naming). */
    static String propertyName(String suffix) {
        int upper = 0;
        while (upper < suffix.length() && Character.isUpperCase(suffix.charAt(upper))) upper++;
        if (upper == 0) return suffix;
        if (upper == 1 || upper == suffix.length()) return suffix.substring(0, upper).toLowerCase(Locale.ROOT) + suffix.substring(upper);
        return suffix.substring(0, upper - 1).toLowerCase(Locale.ROOT) + suffix.substring(upper - 1);
    }

    // ---- Java → JSON ----

    /** `value` as plain values for Json.write. */
    public static Object toJson(Object value) {
        return write(value, 0);
    }

    private static Object write(Object value, int depth) {
        if (depth > MAX_DEPTH) throw new IllegalArgumentException("Cannot serialize: nested too deeply (a cycle?)");
        if (value == null || value instanceof String || value instanceof Boolean || value instanceof Number || value instanceof Character) return value;
        if (value instanceof Enum) return ((Enum<?>) value).name();
        if (value instanceof java.util.Optional) return write(((java.util.Optional<?>) value).orElse(null), depth + 1);
        if (value instanceof java.util.Date) return ((java.util.Date) value).getTime();
        if (value instanceof java.time.temporal.TemporalAccessor || value instanceof java.util.UUID || value instanceof java.net.URI) return value.toString();
        if (value instanceof byte[]) return java.util.Base64.getEncoder().encodeToString((byte[]) value);
        if (value instanceof Map) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) out.put(String.valueOf(e.getKey()), write(e.getValue(), depth + 1));
            return out;
        }
        if (value instanceof Iterable) {
            List<Object> out = new ArrayList<>();
            for (Object o : (Iterable<?>) value) out.add(write(o, depth + 1));
            return out;
        }
        if (value.getClass().isArray()) {
            List<Object> out = new ArrayList<>();
            for (int i = 0; i < Array.getLength(value); i++) out.add(write(Array.get(value, i), depth + 1));
            return out;
        }
        return value.getClass().isRecord() ? writeRecord(value, depth) : writeBean(value, depth);
    }

    private static Object writeRecord(Object value, int depth) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (RecordComponent c : value.getClass().getRecordComponents()) {
            Object v = invoke(c.getAccessor(), value);
            if (v != null) out.put(c.getName(), write(v, depth + 1));
        }
        return out;
    }

    private static Object writeBean(Object value, int depth) {
        Map<String, Method> getters = new LinkedHashMap<>();
        for (Method m : value.getClass().getMethods()) {
            if (m.getParameterCount() != 0 || Modifier.isStatic(m.getModifiers()) || m.getDeclaringClass() == Object.class) continue;
            String n = m.getName();
            if (n.startsWith("get") && n.length() > 3 && m.getReturnType() != void.class) getters.putIfAbsent(propertyName(n.substring(3)), m);
            else if (n.startsWith("is") && n.length() > 2 && m.getReturnType() == boolean.class) getters.putIfAbsent(propertyName(n.substring(2)), m);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        List<Class<?>> chain = new ArrayList<>();
        for (Class<?> c = value.getClass(); c != null && c != Object.class; c = c.getSuperclass()) chain.add(0, c);
        for (Class<?> c : chain) {
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers()) || out.containsKey(f.getName())) continue;
                Method getter = getters.remove(f.getName());
                Object v = getter != null ? invoke(getter, value) : Modifier.isPublic(f.getModifiers()) ? fieldValue(f, value) : null;
                if (v != null) out.put(f.getName(), write(v, depth + 1));
            }
        }
        for (Map.Entry<String, Method> e : getters.entrySet()) {
            Object v = invoke(e.getValue(), value);
            if (v != null) out.put(e.getKey(), write(v, depth + 1));
        }
        return out;
    }

    private static Object invoke(Method m, Object target) {
        try {
            m.setAccessible(true);
            return m.invoke(target);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalArgumentException("Cannot serialize " + target.getClass().getName() + "." + m.getName() + ": " + rootMessage(e), e);
        }
    }

    private static Object fieldValue(Field f, Object target) {
        try {
            return f.get(target);
        } catch (IllegalAccessException e) {
            return null;
        }
    }
}
