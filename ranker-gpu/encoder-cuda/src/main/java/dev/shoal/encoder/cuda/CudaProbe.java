package dev.shoal.encoder.cuda;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Whether a CUDA driver is installed, decided without loading any JCuda class: a JCuda class
 * whose static initialiser fails to load its native library poisons the JVM (every later use
 * throws {@code NoClassDefFoundError}), so the CPU machine must never reach it. Looks for the
 * NVIDIA kernel module and for {@code libcuda.so.1} where drivers and container runtimes put it.
 * Stateless.
 */
public final class CudaProbe {

  private static final List<String> LIBCUDA_DIRS = List.of("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib",
      "/usr/local/nvidia/lib64", "/usr/local/cuda/compat", "/usr/lib/wsl/lib", "/run/nvidia/driver/usr/lib64");

  private CudaProbe() {
  }

  /** Empty when a driver seems present; otherwise why CUDA cannot run here. */
  public static Optional<String> whyNot() {
    if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
      return Optional.of("the CUDA backend is built for Linux x86-64");
    }
    if (!System.getProperty("os.arch", "").equals("amd64")) {
      return Optional.of("the CUDA backend is built for x86-64, this is " + System.getProperty("os.arch"));
    }
    String env = System.getenv("SHOAL_CUDA");
    if ("off".equalsIgnoreCase(env)) {
      return Optional.of("SHOAL_CUDA=off");
    }
    boolean lib = LIBCUDA_DIRS.stream().anyMatch(d -> Files.exists(Path.of(d, "libcuda.so.1")));
    if (!lib) {
      String ld = System.getenv("LD_LIBRARY_PATH");
      if (ld != null) {
        for (String d : ld.split(":")) {
          if (!d.isEmpty() && Files.exists(Path.of(d, "libcuda.so.1"))) {
            lib = true;
          }
        }
      }
    }
    if (!lib) {
      return Optional.of("no CUDA driver (libcuda.so.1 not found)");
    }
    if (!Files.exists(Path.of("/proc/driver/nvidia/version")) && !Files.exists(Path.of("/dev/nvidiactl"))
        && !Files.exists(Path.of("/dev/dxg"))) {
      return Optional.of("libcuda.so.1 is installed but no NVIDIA device is visible");
    }
    return Optional.empty();
  }
}
