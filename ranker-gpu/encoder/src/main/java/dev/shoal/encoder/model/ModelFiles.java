package dev.shoal.encoder.model;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** Opens model files named "classpath:resource" (inside a Maven artifact) or by file path. */
public final class ModelFiles {

  private ModelFiles() {
  }

  public static InputStream open(String location) throws IOException {
    if (location.startsWith("classpath:")) {
      String resource = location.substring("classpath:".length());
      InputStream in = ModelFiles.class.getClassLoader().getResourceAsStream(resource);
      if (in == null) {
        throw new FileNotFoundException(resource + " is not on the class path (is its model artifact a dependency?)");
      }
      return in;
    }
    return Files.newInputStream(Path.of(location));
  }

  public static byte[] readAll(String location) throws IOException {
    try (InputStream in = open(location)) {
      return in.readAllBytes();
    }
  }
}
