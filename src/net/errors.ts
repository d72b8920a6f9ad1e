/**
 * Errors of the links layer. Expected failures of talking to peers: every one is an operating
 * error a caller handles (retry, hint, report), never a reason for a node to crash.
 *
 * @module
 */

/** Base class of the links layer's errors. */
export class NetError extends Error {
  override name = "NetError";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** The connection was closed (by us, by the peer, or by a reset) while in use. */
export class ConnectionClosedError extends NetError {
  override name = "ConnectionClosedError";
}

/**
 * A peer opened a connection and closed it before sending a byte: a liveness probe or a port
 * check, not a failed handshake.
 */
export class ClosedBeforeHandshakeError extends ConnectionClosedError {
  override name = "ClosedBeforeHandshakeError";
}

/** Nothing accepts connections at the address (the peer's process is gone). */
export class ConnectionRefusedError extends NetError {
  override name = "ConnectionRefusedError";
}

/** Connecting took longer than allowed (the peer's host is hung or unreachable). */
export class ConnectTimeoutError extends NetError {
  override name = "ConnectTimeoutError";
}

/** No response arrived before the request expired. */
export class RequestTimeoutError extends NetError {
  override name = "RequestTimeoutError";
}

/** The peer answered `FAILURE_RSP`: it received the request and could not handle it. */
export class RequestFailedError extends NetError {
  override name = "RequestFailedError";
  /** The reason code the peer sent (`RequestFailureReason`). */
  readonly reason: number;
  /** The peer that failed the request. */
  readonly peer: string;
  constructor(message: string, reason: number, peer: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
    this.peer = peer;
  }
}

/** The message was dropped before sending: its link and both reserves were full. */
export class OverloadedError extends NetError {
  override name = "OverloadedError";
}

/** The message expired while it waited to be sent. */
export class MessageExpiredError extends NetError {
  override name = "MessageExpiredError";
}

/** The message could not be sent: its connection failed or was closed with it queued. */
export class SendFailedError extends NetError {
  override name = "SendFailedError";
}

/** The messaging service is closed. */
export class ServiceClosedError extends NetError {
  override name = "ServiceClosedError";
}
