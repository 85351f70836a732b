/**
 * What CloudWatch Logs counts for an event besides its message's UTF-8 bytes: 26 bytes (a
 * PutLogEvents batch's size, and the stored bytes, are the messages' bytes plus 26 per event).
 * The log store counts it in stored bytes, the worker's shipper in its bounds and batch sizes.
 */
export const EVENT_OVERHEAD_BYTES = 26;
