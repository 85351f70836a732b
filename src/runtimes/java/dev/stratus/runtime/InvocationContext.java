package dev.stratus.runtime;

import com.amazonaws.services.lambda.runtime.Client;
import com.amazonaws.services.lambda.runtime.ClientContext;
import com.amazonaws.services.lambda.runtime.CognitoIdentity;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** The Context of one invocation, from the function's variables and the invocation's headers. */
final class InvocationContext implements Context {
    private final Map<String, String> env;
    private final RuntimeClient.Response next;
    private final long deadlineMs;
    private final LambdaLogger logger;
    private final CognitoIdentity identity;
    private final ClientContext clientContext;

    InvocationContext(Map<String, String> env, RuntimeClient.Response next, LambdaLogger logger) {
        this.env = env;
        this.next = next;
        this.logger = logger;
        long deadline;
        try {
            deadline = Long.parseLong(header("Lambda-Runtime-Deadline-Ms"));
        } catch (NumberFormatException e) {
            deadline = System.currentTimeMillis();
        }
        this.deadlineMs = deadline;
        this.identity = identity(jsonObject(header("Lambda-Runtime-Cognito-Identity")));
        this.clientContext = clientContext(jsonObject(header("Lambda-Runtime-Client-Context")));
    }

    private String header(String name) {
        String v = next.header(name);
        return v == null ? "" : v;
    }

    private static Map<?, ?> jsonObject(String text) {
        if (text.isEmpty()) return null;
        try {
            Object v = Json.parse(text);
            return v instanceof Map ? (Map<?, ?>) v : null;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static String str(Map<?, ?> m, String key) {
        Object v = m == null ? null : m.get(key);
        return v == null ? null : v.toString();
    }

    private static Map<String, String> strings(Object o) {
        if (!(o instanceof Map)) return Collections.emptyMap();
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet()) out.put(String.valueOf(e.getKey()), e.getValue() == null ? null : e.getValue().toString());
        return Collections.unmodifiableMap(out);
    }

    private static CognitoIdentity identity(Map<?, ?> doc) {
        if (doc == null) return null;
        String id = str(doc, "cognitoIdentityId");
        String pool = str(doc, "cognitoIdentityPoolId");
        return new CognitoIdentity() {
            public String getIdentityId() {
                return id;
            }

            public String getIdentityPoolId() {
                return pool;
            }
        };
    }

    private static ClientContext clientContext(Map<?, ?> doc) {
        if (doc == null) return null;
        Map<?, ?> c = doc.get("client") instanceof Map ? (Map<?, ?>) doc.get("client") : null;
        Client client = c == null ? null : new Client() {
            public String getInstallationId() {
                return str(c, "installation_id");
            }

            public String getAppTitle() {
                return str(c, "app_title");
            }

            public String getAppVersionName() {
                return str(c, "app_version_name");
            }

            public String getAppVersionCode() {
                return str(c, "app_version_code");
            }

            public String getAppPackageName() {
                return str(c, "app_package_name");
            }
        };
        Map<String, String> custom = strings(doc.get("custom"));
        Map<String, String> environment = strings(doc.get("env"));
        return new ClientContext() {
            public Client getClient() {
                return client;
            }

            public Map<String, String> getCustom() {
                return custom;
            }

            public Map<String, String> getEnvironment() {
                return environment;
            }
        };
    }

    public String getAwsRequestId() {
        return header("Lambda-Runtime-Aws-Request-Id");
    }

    public String getLogGroupName() {
        return env.get("AWS_LAMBDA_LOG_GROUP_NAME");
    }

    public String getLogStreamName() {
        return env.get("AWS_LAMBDA_LOG_STREAM_NAME");
    }

    public String getFunctionName() {
        return env.get("AWS_LAMBDA_FUNCTION_NAME");
    }

    public String getFunctionVersion() {
        return env.get("AWS_LAMBDA_FUNCTION_VERSION");
    }

    public String getInvokedFunctionArn() {
        return header("Lambda-Runtime-Invoked-Function-Arn");
    }

    public CognitoIdentity getIdentity() {
        return identity;
    }

    public ClientContext getClientContext() {
        return clientContext;
    }

    public int getRemainingTimeInMillis() {
        long left = deadlineMs - System.currentTimeMillis();
        return (int) Math.max(0, Math.min(Integer.MAX_VALUE, left));
    }

    public int getMemoryLimitInMB() {
        try {
            return Integer.parseInt(env.getOrDefault("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"));
        } catch (NumberFormatException e) {
            return 128;
        }
    }

    public LambdaLogger getLogger() {
        return logger;
    }
}
