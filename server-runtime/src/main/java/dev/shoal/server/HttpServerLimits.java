package dev.shoal.server;

/**
 * Time and connection limits for the JDK's HTTP server, which by default has none: a request
 * whose line and headers (or body) take longer than {@value #MAX_REQUEST_SECONDS} s to arrive is
 * dropped, an idle keep-alive connection is closed after {@value #IDLE_SECONDS} s, and at most
 * {@value #MAX_CONNECTIONS} connections are open. The JDK reads a request on a worker thread, so
 * without these a few clients sending a byte every few seconds hold every worker (slowloris).
 *
 * <p>The JDK reads these once, when the first server of the JVM is created, so every Shoal class
 * that creates one calls {@link #apply()} first. A value set on the command line wins.
 */
public final class HttpServerLimits {

  public static final int MAX_REQUEST_SECONDS = 10;
  public static final int IDLE_SECONDS = 30;
  public static final int MAX_CONNECTIONS = 1_024;

  private HttpServerLimits() {
  }

  public static void apply() {
    setIfAbsent("sun.net.httpserver.maxReqTime", Integer.toString(MAX_REQUEST_SECONDS));
    setIfAbsent("sun.net.httpserver.maxRspTime", "60");
    setIfAbsent("sun.net.httpserver.idleInterval", Integer.toString(IDLE_SECONDS));
    setIfAbsent("sun.net.httpserver.maxReqHeaders", "100");
    setIfAbsent("jdk.httpserver.maxConnections", Integer.toString(MAX_CONNECTIONS));
  }

  private static void setIfAbsent(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }
}
