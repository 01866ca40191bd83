package io.gpupool.agent.web;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a route answers, before Netty sees it: status, content type, body, extra headers.
 *
 * <p>Why not build Netty responses in the routes: routes stay plain functions of the request
 * (testable without a channel), and the handler alone deals with keep-alive, HEAD and
 * Content-Length, so no route can get those wrong.
 */
record HttpReply(int status, String contentType, byte[] body, Map<String, String> headers) {

  static final String TEXT = "text/plain; charset=utf-8";
  static final String HTML = "text/html; charset=utf-8";
  static final String JSON = "application/json; charset=utf-8";
  static final String CSV = "text/csv; charset=utf-8";

  HttpReply {
    headers = Map.copyOf(headers);
  }

  static HttpReply of(int status, String contentType, byte[] body) {
    return new HttpReply(status, contentType, body, Map.of());
  }

  static HttpReply of(int status, String contentType, String body) {
    return of(status, contentType, body.getBytes(StandardCharsets.UTF_8));
  }

  /** A plain-text message (errors): one line, newline-terminated. */
  static HttpReply text(int status, String message) {
    return of(status, TEXT, message.endsWith("\n") ? message : message + "\n");
  }

  HttpReply withHeader(String name, String value) {
    Map<String, String> h = new LinkedHashMap<>(headers);
    h.put(name, value);
    return new HttpReply(status, contentType, body, h);
  }
}
