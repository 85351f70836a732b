/**
 * The AWS event-stream wire format (application/vnd.amazon.eventstream), encode side only:
 *   prelude: total length (u32 BE), headers length (u32 BE), CRC32 of those 8 bytes
 *   headers: name length (u8), name, type 7 (string), value length (u16 BE), value
 *   payload, then CRC32 of everything before it.
 * InvokeWithResponseStream answers with PayloadChunk events and one InvokeComplete.
 */

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3), as zlib computes it. */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const STRING_HEADER = 7;

export function encodeMessage(headers: Record<string, string>, payload: Uint8Array): Buffer {
  const encodedHeaders = Buffer.concat(Object.entries(headers).map(([name, value]) => {
    const n = Buffer.from(name, 'utf8');
    const v = Buffer.from(value, 'utf8');
    const out = Buffer.alloc(1 + n.length + 1 + 2 + v.length);
    out.writeUInt8(n.length, 0);
    n.copy(out, 1);
    out.writeUInt8(STRING_HEADER, 1 + n.length);
    out.writeUInt16BE(v.length, 2 + n.length);
    v.copy(out, 4 + n.length);
    return out;
  }));
  const total = 12 + encodedHeaders.length + payload.length + 4;
  const message = Buffer.alloc(total);
  message.writeUInt32BE(total, 0);
  message.writeUInt32BE(encodedHeaders.length, 4);
  message.writeUInt32BE(crc32(message.subarray(0, 8)), 8);
  encodedHeaders.copy(message, 12);
  Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).copy(message, 12 + encodedHeaders.length);
  message.writeUInt32BE(crc32(message.subarray(0, total - 4)), total - 4);
  return message;
}

function event(type: string, contentType: string, payload: Uint8Array): Buffer {
  return encodeMessage({ ':event-type': type, ':content-type': contentType, ':message-type': 'event' }, payload);
}

/** One piece of the function's response. */
export function payloadChunk(bytes: Uint8Array): Buffer {
  return event('PayloadChunk', 'application/octet-stream', bytes);
}

export interface InvokeComplete {
  ErrorCode?: string;
  ErrorDetails?: string;
  LogResult?: string;
}

/** The last event: how the invocation ended, and the log tail when asked for. */
export function invokeComplete(complete: InvokeComplete): Buffer {
  return event('InvokeComplete', 'application/json', Buffer.from(JSON.stringify(complete)));
}
