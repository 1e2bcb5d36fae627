/**
 * What a remote channel needs from its endpoint (internal to runtime/exchange): a way to send frames and the
 * endpoint's record encoder, shared by all senders of the endpoint because sequential encoding is one stream.
 */
export interface ChannelLink {
  send(frame: Uint8Array): void;
  encode(records: readonly unknown[]): Uint8Array;
}
