package dev.shoal.server.auth;

import dev.shoal.server.time.Clock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The keys of a key file, re-read when the file changes: a key added or revoked (its line
 * removed) takes effect within {@link #CHECK_INTERVAL_MS} ms of the next request, without a
 * restart. The check is made by the requests themselves (at most once per interval), so no thread
 * is needed. A file that cannot be read or parsed keeps the keys read before, with a log line
 * (naming the line, never a key); at start it is an error.
 *
 * <p>Thread-safe.
 */
public final class ApiKeyFile {

  public static final long CHECK_INTERVAL_MS = 1_000;
  private static final Logger LOG = LoggerFactory.getLogger(ApiKeyFile.class);

  private final Path path;
  private final Clock clock;
  private volatile ApiKeys keys;
  private volatile long nextCheckNanos;
  private FileTime modified;
  private long size;

  /** @throws IllegalArgumentException when the file cannot be read or parsed */
  public ApiKeyFile(Path path, Clock clock) {
    this.path = path;
    this.clock = clock;
    try {
      load();
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException("API key file " + path + ": " + e.getMessage(), e);
    }
  }

  public Path path() {
    return path;
  }

  /** The keys now, re-read first if the interval has passed and the file changed. */
  public ApiKeys keys() {
    long now = clock.nanoTime();
    if (now - nextCheckNanos >= 0) {
      synchronized (this) {
        if (now - nextCheckNanos >= 0) {
          nextCheckNanos = now + TimeUnit.MILLISECONDS.toNanos(CHECK_INTERVAL_MS);
          try {
            if (!Files.getLastModifiedTime(path).equals(modified) || Files.size(path) != size) {
              load();
              LOG.info("API keys re-read from {}: {} keys", path, keys.size());
            }
          } catch (IOException | RuntimeException e) {
            LOG.warn("API key file {} not re-read, keeping the {} keys read before: {}", path, keys.size(),
                e.getMessage());
          }
        }
      }
    }
    return keys;
  }

  private void load() throws IOException {
    FileTime m = Files.getLastModifiedTime(path);
    long s = Files.size(path);
    keys = ApiKeys.parse(Files.readAllLines(path));
    modified = m;
    size = s;
  }
}
