package dev.shoal.server;

import io.grpc.MethodDescriptor;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/** Raw bytes as a gRPC message, for tests that serve methods without generated stubs. */
public final class BytesMarshaller implements MethodDescriptor.Marshaller<byte[]> {
  public static final BytesMarshaller BYTES = new BytesMarshaller();

  private BytesMarshaller() {
  }

  @Override
  public InputStream stream(byte[] value) {
    return new ByteArrayInputStream(value);
  }

  @Override
  public byte[] parse(InputStream stream) {
    try {
      return stream.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
