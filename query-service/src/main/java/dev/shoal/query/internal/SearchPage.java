package dev.shoal.query.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The search page at {@code GET /}: one self-contained HTML file (no CDN, nothing fetched from
 * elsewhere) that is a client of the public JSON API like any other. Its query, profiles, page and
 * filters live in the URL; it sends the API key a user gives it (kept in the browser's
 * localStorage) when the server answers 401.
 *
 * <p>Served with a Content-Security-Policy that allows only its own inline script and style (by
 * hash) and requests to this origin, so a snippet that slipped past the server's escaping still
 * could not run script. Stateless; the page is read once.
 */
final class SearchPage {
  private static final String RESOURCE = "search-page.html";
  private static final byte[] HTML;
  private static final String POLICY;

  static {
    try (InputStream in = SearchPage.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException(RESOURCE + " is missing from the query service's jar");
      }
      HTML = in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    String page = new String(HTML, StandardCharsets.UTF_8);
    POLICY = "default-src 'none'; script-src '" + hash(between(page, "<script>", "</script>")) + "'; style-src '"
        + hash(between(page, "<style>", "</style>")) + "'; connect-src 'self'; img-src 'self' data:; "
        + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
  }

  private SearchPage() {
  }

  static void serve(Request request, Response response, Callback callback) {
    if (!request.getMethod().equals("GET") && !request.getMethod().equals("HEAD")) {
      response.setStatus(405);
      response.getHeaders().put(HttpHeader.ALLOW, "GET, HEAD");
      response.write(true, ByteBuffer.allocate(0), callback);
      return;
    }
    response.setStatus(200);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/html; charset=utf-8");
    response.getHeaders().put("Content-Security-Policy", POLICY);
    response.getHeaders().put("X-Content-Type-Options", "nosniff");
    response.getHeaders().put("Referrer-Policy", "no-referrer");
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-cache");
    response.write(true, ByteBuffer.wrap(request.getMethod().equals("HEAD") ? new byte[0] : HTML), callback);
  }

  private static String between(String page, String open, String close) {
    int start = page.indexOf(open);
    int end = page.indexOf(close, start);
    if (start < 0 || end < 0 || page.indexOf(open, end) >= 0) {
      throw new IllegalStateException(RESOURCE + " must hold exactly one " + open + " block");
    }
    return page.substring(start + open.length(), end);
  }

  private static String hash(String body) {
    try {
      return "sha256-" + Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-256")
          .digest(body.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
