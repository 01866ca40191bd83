package io.gpupool.client;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertPathValidatorException;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * The client's side of TLS ({@code gpupools://}): a context that trusts the JVM's trust store
 * or the certificates of a PEM file, and sockets that verify the peer's certificate against
 * the pool's host name (HTTPS endpoint identification) — for the worker too, which serves the
 * agent's certificate at the address the agent's Redirect names.
 */
final class Tls {
  private static final int HANDSHAKE_TIMEOUT_MILLIS = 10_000;

  private final SSLContext context;
  private final String verifyHost;
  private final String trustDescription;

  private Tls(SSLContext context, String verifyHost, String trustDescription) {
    this.context = context;
    this.verifyHost = verifyHost;
    this.trustDescription = trustDescription;
  }

  /** TLS for the pool at {@code host}: the certificates of {@code trustPem}, or the JVM's trust store when null. */
  static Tls forHost(String host, Path trustPem) {
    String name = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    if (trustPem == null) {
      try {
        return new Tls(SSLContext.getDefault(), name, "the JVM's trust store");
      } catch (GeneralSecurityException e) {
        throw new GpuPoolException("no TLS context: " + e.getMessage(), e);
      }
    }
    return new Tls(context(trustPem), name, "the certificates of " + trustPem);
  }

  /** The name the peers' certificates must carry: the pool's host. */
  String verifyHost() {
    return verifyHost;
  }

  /** A context trusting exactly the X.509 certificates of a PEM file (a CA or the server's own). */
  static SSLContext context(Path pem) {
    List<X509Certificate> certificates = certificates(pem);
    try {
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      for (int i = 0; i < certificates.size(); i++) {
        store.setCertificateEntry("trusted-" + i, certificates.get(i));
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(store);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, tmf.getTrustManagers(), null);
      return context;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalArgumentException("cannot trust the certificates of " + pem + ": " + e.getMessage(), e);
    }
  }

  /** The X.509 certificates of a PEM (or DER) file; IllegalArgumentException when it has none. */
  static List<X509Certificate> certificates(Path pem) {
    Collection<? extends Certificate> read;
    try (InputStream in = Files.newInputStream(pem)) {
      read = CertificateFactory.getInstance("X.509").generateCertificates(in);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read the trust file " + pem + ": " + e, e);
    } catch (CertificateException e) {
      throw new IllegalArgumentException("the trust file " + pem + " holds no readable X.509 certificate: "
          + e.getMessage(), e);
    }
    List<X509Certificate> certificates = new ArrayList<>();
    for (Certificate c : read) {
      if (c instanceof X509Certificate x) {
        certificates.add(x);
      }
    }
    if (certificates.isEmpty()) {
      throw new IllegalArgumentException("the trust file " + pem + " holds no X.509 certificate"
          + " (expected PEM: -----BEGIN CERTIFICATE-----)");
    }
    return certificates;
  }

  /**
   * Runs the TLS handshake over a connected socket, verifying the peer's certificate against
   * {@link #verifyHost()}; the returned socket closes {@code plain} with it. A handshake that
   * fails closes the socket and throws PoolUnavailableException naming {@code where} and why.
   */
  SSLSocket handshake(Socket plain, String where) {
    SSLSocket socket = null;
    try {
      socket = (SSLSocket) context.getSocketFactory().createSocket(plain, verifyHost, plain.getPort(), true);
      SSLParameters parameters = socket.getSSLParameters();
      parameters.setEndpointIdentificationAlgorithm("HTTPS");
      socket.setSSLParameters(parameters);
      socket.setUseClientMode(true);
      int timeout = plain.getSoTimeout();
      socket.setSoTimeout(HANDSHAKE_TIMEOUT_MILLIS);
      socket.startHandshake();
      socket.setSoTimeout(timeout);
      return socket;
    } catch (IOException e) {
      closeQuietly(socket != null ? socket : plain);
      throw new PoolUnavailableException(failure(where, e), e);
    }
  }

  private String failure(String where, IOException e) {
    String prefix = "TLS handshake with " + where + " failed: ";
    if (e instanceof SSLHandshakeException && certificateProblem(e)) {
      return prefix + "its certificate does not verify for '" + verifyHost + "' against " + trustDescription
          + " (" + rootMessage(e) + ")";
    }
    if (e instanceof SocketTimeoutException) {
      return prefix + "no answer in " + HANDSHAKE_TIMEOUT_MILLIS / 1000 + " s (does it serve TLS? use gpupool://"
          + " for a plain listener)";
    }
    if (e instanceof SSLException) {
      return prefix + rootMessage(e) + " (does it serve TLS? use gpupool:// for a plain listener)";
    }
    return prefix + e;
  }

  private static boolean certificateProblem(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof CertificateException || t instanceof CertPathValidatorException
          || t.getClass().getName().contains("CertPathBuilderException")) {
        return true;
      }
    }
    return false;
  }

  private static String rootMessage(Throwable e) {
    String message = e.getMessage();
    for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
      if (t.getMessage() != null) {
        message = t.getMessage();
      }
    }
    return message == null ? e.toString() : message;
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // nothing to do
    }
  }

  @Override
  public String toString() {
    return "TLS verifying '" + verifyHost + "' against " + trustDescription;
  }
}
