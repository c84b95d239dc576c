package dev.shoal.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A headless Chromium driven over the Chrome DevTools Protocol (a WebSocket, JSON messages), for
 * tests of the search page as a user sees it: navigate, type, press keys, read the DOM, take
 * screenshots. The browser is Debian's {@code chromium} (or {@code SHOAL_CHROMIUM}); nothing is
 * downloaded. Not thread-safe: one test drives one browser.
 */
public final class HeadlessChromium implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern LISTENING = Pattern.compile("DevTools listening on (ws://\\S+)");
  private static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);

  private final Process process;
  private final WebSocket socket;
  private final AtomicInteger ids = new AtomicInteger();
  private final Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();

  /** The browser to run: {@code SHOAL_CHROMIUM}, else Debian's or another usual path. */
  public static Path executable() {
    String configured = System.getenv("SHOAL_CHROMIUM");
    List<String> candidates = configured != null ? List.of(configured)
        : List.of("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome");
    for (String c : candidates) {
      if (Files.isExecutable(Path.of(c))) {
        return Path.of(c);
      }
    }
    throw new IllegalStateException("no Chromium at " + candidates + ": install Debian's chromium package "
        + "(.ci/run does) or set SHOAL_CHROMIUM to a Chromium or Chrome binary");
  }

  /** Starts a browser with its profile in {@code profileDir}. */
  public static HeadlessChromium launch(Path profileDir) throws IOException, InterruptedException {
    Files.createDirectories(profileDir);
    Process p = new ProcessBuilder(executable().toString(), "--headless=new", "--no-sandbox", "--disable-gpu",
        "--remote-debugging-port=0", "--user-data-dir=" + profileDir, "--no-first-run", "--no-default-browser-check",
        "--disable-extensions", "--disable-background-networking", "--disable-sync", "--disable-dev-shm-usage",
        "--hide-scrollbars", "--mute-audio", "--window-size=1280,900", "about:blank")
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    CompletableFuture<String> endpoint = new CompletableFuture<>();
    Thread drain = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          Matcher m = LISTENING.matcher(line);
          if (m.find()) {
            endpoint.complete(m.group(1));
          }
        }
      } catch (IOException e) {
        endpoint.completeExceptionally(e);
      }
      endpoint.completeExceptionally(new IOException("Chromium exited before it listened: " + p.exitValue()));
    }, "chromium-stderr");
    drain.setDaemon(true);
    drain.start();
    try {
      return new HeadlessChromium(p, endpoint.get(30, TimeUnit.SECONDS));
    } catch (Exception e) {
      p.destroyForcibly();
      throw new IOException("Chromium did not start its DevTools endpoint: " + e, e);
    }
  }

  private HeadlessChromium(Process process, String endpoint) throws InterruptedException, IOException {
    this.process = process;
    try {
      this.socket = HttpClient.newHttpClient().newWebSocketBuilder().buildAsync(URI.create(endpoint), new Listener())
          .get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IOException("cannot connect to " + endpoint, e);
    }
  }

  /** Collects a message's fragments and completes the call it answers. */
  private final class Listener implements WebSocket.Listener {
    private final StringBuilder message = new StringBuilder();

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      message.append(data);
      if (last) {
        try {
          JsonNode m = JSON.readTree(message.toString());
          CompletableFuture<JsonNode> f = m.has("id") ? pending.remove(m.get("id").asInt()) : null;
          if (f != null) {
            if (m.has("error")) {
              f.completeExceptionally(new IOException("DevTools: " + m.get("error")));
            } else {
              f.complete(m.path("result"));
            }
          }
        } catch (IOException e) {
          pending.values().forEach(f -> f.completeExceptionally(e));
        }
        message.setLength(0);
      }
      ws.request(1);
      return null;
    }
  }

  JsonNode call(String session, String method, Map<String, ?> params) throws IOException {
    int id = ids.incrementAndGet();
    ObjectNode m = JSON.createObjectNode().put("id", id).put("method", method);
    m.set("params", JSON.valueToTree(params));
    if (session != null) {
      m.put("sessionId", session);
    }
    CompletableFuture<JsonNode> f = new CompletableFuture<>();
    pending.put(id, f);
    socket.sendText(JSON.writeValueAsString(m), true).join();
    try {
      return f.get(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      throw new IOException(method + " failed: " + e.getMessage(), e);
    }
  }

  /** A new tab. */
  public Page newPage() throws IOException {
    String target = call(null, "Target.createTarget", Map.of("url", "about:blank")).path("targetId").asText();
    String session = call(null, "Target.attachToTarget", Map.of("targetId", target, "flatten", true))
        .path("sessionId").asText();
    Page page = new Page(session);
    page.call("Page.enable", Map.of());
    page.call("Runtime.enable", Map.of());
    return page;
  }

  /** One tab. */
  public final class Page {
    private final String session;

    private Page(String session) {
      this.session = session;
    }

    JsonNode call(String method, Map<String, ?> params) throws IOException {
      return HeadlessChromium.this.call(session, method, params);
    }

    /** Loads {@code url} and waits until the document has loaded. */
    public void navigate(String url) throws IOException, InterruptedException {
      JsonNode r = call("Page.navigate", Map.of("url", url));
      if (r.hasNonNull("errorText")) {
        throw new IOException("cannot load " + url + ": " + r.get("errorText").asText());
      }
      waitFor("document.readyState === 'complete'", Duration.ofSeconds(30));
    }

    /** The value of a JavaScript expression (promises awaited). */
    public JsonNode evaluate(String expression) throws IOException {
      JsonNode r = call("Runtime.evaluate", Map.of("expression", expression, "returnByValue", true,
          "awaitPromise", true));
      if (r.has("exceptionDetails")) {
        throw new IOException("page threw on " + expression + ": " + r.get("exceptionDetails"));
      }
      return r.path("result").path("value");
    }

    /** Waits until {@code condition} (JavaScript) is true. @throws AssertionError saying which condition, when it never is */
    public void waitFor(String condition, Duration timeout) throws IOException, InterruptedException {
      long until = System.nanoTime() + timeout.toNanos();
      while (!evaluate("Boolean(" + condition + ")").asBoolean()) {
        if (System.nanoTime() > until) {
          throw new AssertionError("not true after " + timeout.toSeconds() + " s: " + condition + "; page text: "
              + evaluate("document.body ? document.body.innerText.slice(0, 2000) : ''").asText());
        }
        Thread.sleep(100);
      }
    }

    /** Types {@code text} into the focused element, as a keyboard would (input events and all). */
    public void type(String text) throws IOException {
      for (int i = 0; i < text.length(); ) {
        int cp = text.codePointAt(i);
        String ch = new String(Character.toChars(cp));
        call("Input.dispatchKeyEvent", Map.of("type", "keyDown", "text", ch, "key", ch));
        call("Input.dispatchKeyEvent", Map.of("type", "keyUp", "key", ch));
        i += Character.charCount(cp);
      }
    }

    /** Presses one named key: "Enter", "Tab", "Escape", "ArrowDown"... */
    public void press(String key) throws IOException {
      int code = switch (key) {
        case "Enter" -> 13;
        case "Tab" -> 9;
        case "Escape" -> 27;
        case "ArrowDown" -> 40;
        case "ArrowUp" -> 38;
        default -> throw new IllegalArgumentException("no key code for " + key);
      };
      Map<String, Object> down = new java.util.HashMap<>(Map.of("type", "keyDown", "key", key, "code", key,
          "windowsVirtualKeyCode", code));
      if (key.equals("Enter")) {
        down.put("text", "\r");
      }
      call("Input.dispatchKeyEvent", down);
      call("Input.dispatchKeyEvent", Map.of("type", "keyUp", "key", key, "code", key, "windowsVirtualKeyCode", code));
    }

    /** Lays the page out as on a screen of this size in CSS pixels. */
    public void viewport(int width, int height) throws IOException {
      call("Emulation.setDeviceMetricsOverride", Map.of("width", width, "height", height, "deviceScaleFactor", 1,
          "mobile", false));
    }

    /** A PNG of the whole page, beyond the viewport too. */
    public void screenshot(Path file) throws IOException {
      JsonNode r = call("Page.captureScreenshot", Map.of("format", "png", "captureBeyondViewport", true));
      Files.createDirectories(file.toAbsolutePath().getParent());
      Files.write(file, Base64.getDecoder().decode(r.path("data").asText()));
    }
  }

  @Override
  public void close() {
    try {
      call(null, "Browser.close", Map.of());
    } catch (IOException | RuntimeException e) {
      // the process goes below either way
    }
    socket.abort();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
