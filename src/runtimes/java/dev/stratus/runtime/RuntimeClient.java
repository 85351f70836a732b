package dev.stratus.runtime;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Lambda's Runtime API (2018-06-01) over one keep-alive HTTP/1.1 connection, on a Unix socket
 * (STRATUS_RUNTIME_API_SOCKET: no TCP connection is open when a SnapStart sandbox is
 * checkpointed) or TCP (AWS_LAMBDA_RUNTIME_API).
 */
public final class RuntimeClient {
    private static final String PREFIX = "/2018-06-01/runtime";
    private static final String USER_AGENT = "aws-lambda-java/" + System.getProperty("java.version") + "-stratus";
    private final SocketAddress address;
    private final String host;
    private SocketChannel channel;
    private final ByteBuffer in = ByteBuffer.allocate(64 * 1024);

    /** A response of the Runtime API: status, headers (lower-case names) and body. */
    public static final class Response {
        public final int status;
        public final Map<String, String> headers;
        public final byte[] body;

        Response(int status, Map<String, String> headers, byte[] body) {
            this.status = status;
            this.headers = headers;
            this.body = body;
        }

        public String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }
    }

    public RuntimeClient(Map<String, String> env) {
        String api = env.getOrDefault("AWS_LAMBDA_RUNTIME_API", "");
        String socket = env.getOrDefault("STRATUS_RUNTIME_API_SOCKET", "");
        host = api.isEmpty() ? "localhost" : api;
        if (!socket.isEmpty()) {
            address = UnixDomainSocketAddress.of(socket);
        } else if (!api.isEmpty()) {
            int colon = api.lastIndexOf(':');
            address = new InetSocketAddress(api.substring(0, colon), Integer.parseInt(api.substring(colon + 1)));
        } else {
            throw new IllegalStateException("neither STRATUS_RUNTIME_API_SOCKET nor AWS_LAMBDA_RUNTIME_API is set; cannot reach the Runtime API");
        }
    }

    public Response next() throws IOException {
        return expectOk("GET", PREFIX + "/invocation/next", null, null);
    }

    public void postResponse(String requestId, byte[] body) throws IOException {
        request("POST", PREFIX + "/invocation/" + encode(requestId) + "/response", body, null);
    }

    public void postError(String requestId, ErrorShape error) throws IOException {
        postErrorTo(PREFIX + "/invocation/" + encode(requestId) + "/error", error);
    }

    public void postInitError(ErrorShape error) throws IOException {
        postErrorTo(PREFIX + "/init/error", error);
    }

    /** SnapStart: waits across the checkpoint and returns in each restored clone. */
    public void restoreNext() throws IOException {
        expectOk("GET", PREFIX + "/restore/next", null, null);
    }

    public void postRestoreError(ErrorShape error) throws IOException {
        postErrorTo(PREFIX + "/restore/error", error);
    }

    private void postErrorTo(String path, ErrorShape error) throws IOException {
        request("POST", path, error.toJson().getBytes(StandardCharsets.UTF_8), error.errorType);
    }

    private Response expectOk(String method, String path, byte[] body, String errorType) throws IOException {
        Response r = request(method, path, body, errorType);
        if (r.status != 200) {
            throw new IOException(method + " " + path + " returned " + r.status + ": " + new String(r.body, StandardCharsets.UTF_8));
        }
        return r;
    }

    private static String encode(String segment) {
        return java.net.URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private Response request(String method, String path, byte[] body, String errorType) throws IOException {
        StringBuilder head = new StringBuilder();
        head.append(method).append(' ').append(path).append(" HTTP/1.1\r\nHost: ").append(host)
            .append("\r\nUser-Agent: ").append(USER_AGENT).append("\r\n");
        if (body != null) head.append("Content-Type: application/json\r\nContent-Length: ").append(body.length).append("\r\n");
        if (errorType != null) head.append("Lambda-Runtime-Function-Error-Type: ").append(headerValue(errorType)).append("\r\n");
        head.append("\r\n");
        byte[] headBytes = head.toString().getBytes(StandardCharsets.ISO_8859_1);
        boolean fresh = channel == null;
        try {
            if (fresh) connect();
            send(headBytes, body);
            return readResponse();
        } catch (IOException e) {
            close();
            if (fresh) throw e;
            // A stale keep-alive connection: once more on a new one.
            connect();
            send(headBytes, body);
            return readResponse();
        }
    }

    private static String headerValue(String v) {
        StringBuilder sb = new StringBuilder();
        for (char c : v.toCharArray()) if (c == '\t' || (c >= ' ' && c <= '~')) sb.append(c);
        return sb.toString();
    }

    private void connect() throws IOException {
        channel = SocketChannel.open(address instanceof UnixDomainSocketAddress ? StandardProtocolFamily.UNIX : StandardProtocolFamily.INET);
        channel.connect(address);
        in.clear().flip();
    }

    /** Closes the connection (before a checkpoint nothing needs it; the next request opens one). */
    public void close() {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // closing anyway
            }
            channel = null;
        }
    }

    private void send(byte[] head, byte[] body) throws IOException {
        ByteBuffer[] parts = body == null ? new ByteBuffer[] {ByteBuffer.wrap(head)} : new ByteBuffer[] {ByteBuffer.wrap(head), ByteBuffer.wrap(body)};
        long total = head.length + (body == null ? 0 : body.length);
        long written = 0;
        while (written < total) written += channel.write(parts);
    }

    private void fill() throws IOException {
        if (in.hasRemaining()) return;
        in.clear();
        int n = channel.read(in);
        in.flip();
        if (n <= 0) throw new IOException("the Runtime API closed the connection");
    }

    private int readByte() throws IOException {
        fill();
        return in.get() & 0xff;
    }

    private String readLine() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (true) {
            int b = readByte();
            if (b == '\n') break;
            if (b != '\r') line.write(b);
            if (line.size() > 65536) throw new IOException("the Runtime API sent an overlong line");
        }
        return line.toString(StandardCharsets.ISO_8859_1);
    }

    private byte[] readBytes(int n) throws IOException {
        byte[] out = new byte[n];
        int off = 0;
        while (off < n) {
            fill();
            int take = Math.min(in.remaining(), n - off);
            in.get(out, off, take);
            off += take;
        }
        return out;
    }

    private Response readResponse() throws IOException {
        String status = readLine();
        String[] parts = status.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) throw new IOException("the Runtime API sent a bad status line: " + status);
        int code = Integer.parseInt(parts[1]);
        Map<String, String> headers = new LinkedHashMap<>();
        for (String line = readLine(); !line.isEmpty(); line = readLine()) {
            int colon = line.indexOf(':');
            if (colon > 0) headers.putIfAbsent(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim());
        }
        byte[] body;
        if (headers.getOrDefault("transfer-encoding", "").toLowerCase(Locale.ROOT).contains("chunked")) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            while (true) {
                String size = readLine();
                int semi = size.indexOf(';');
                int n = Integer.parseInt((semi >= 0 ? size.substring(0, semi) : size).trim(), 16);
                if (n == 0) {
                    while (!readLine().isEmpty()) { /* trailers */ }
                    break;
                }
                out.write(readBytes(n));
                readLine();
            }
            body = out.toByteArray();
        } else {
            body = readBytes(Integer.parseInt(headers.getOrDefault("content-length", "0")));
        }
        if ("close".equalsIgnoreCase(headers.get("connection"))) close();
        return new Response(code, headers, body);
    }
}
