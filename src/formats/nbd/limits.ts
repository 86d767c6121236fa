/**
 * What Lifeboat accepts from an NBD peer. Every length read from the wire is checked against one of
 * these before a byte of it is buffered, so a hostile or broken peer can end a connection but never
 * make us allocate without bound.
 */

/** A peer broke the protocol (bad magic, impossible length, out-of-order reply). Pure: no I/O. */
export class NbdProtocolError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "NbdProtocolError";
  }
}

export const Limits = {
  /** Largest READ/WRITE payload of one request (qemu and nbdkit default to 32 MiB too). */
  maxPayload: 32 << 20,
  /** Option data a client may send (export name, meta-context queries). */
  maxOptionData: 64 << 10,
  /** Option reply payload a server may send (LIST entries with descriptions, INFO). */
  maxOptionReply: 64 << 10,
  /** Export names and meta-context names (the protocol's own limit). */
  maxString: 4096,
  /** Options in one handshake: a peer that haggles forever is cut off. */
  maxOptions: 128,
  /** Replies to one LIST or SET_META_CONTEXT before the ACK. */
  maxOptionReplies: 4096,
  /** Non-data structured reply chunks (block status extents, error messages). */
  maxStructuredPayload: 2 << 20,
} as const;

export function check(condition: boolean, reason: string): asserts condition {
  if (!condition) throw new NbdProtocolError(reason);
}
