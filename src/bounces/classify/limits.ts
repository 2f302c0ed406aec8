/**
 * Caps that bound the classifier's work whatever the input. A notice puts everything it says
 * (headers, the human text, the delivery-status fields and the returned headers) near the top,
 * so reading only the head of a large message loses nothing that matters.
 */

/** Bytes of the raw message that are ever looked at. */
export const MAX_MESSAGE_BYTES = 256 * 1024;

/** MIME parts walked, counting containers, over the whole message. */
export const MAX_PARTS = 64;

/** Multipart nesting followed; deeper containers are treated as opaque. */
export const MAX_DEPTH = 8;

/** Header fields kept per header block. */
export const MAX_HEADER_FIELDS = 256;

/** Characters kept of one unfolded header field value. */
export const MAX_HEADER_VALUE = 8 * 1024;

/** Characters of decoded text read from one part. */
export const MAX_PART_TEXT = 64 * 1024;

/** Recipients reported for one notice. */
export const MAX_RECIPIENTS = 100;

/** Characters kept of a diagnostic in the verdict. */
export const MAX_DIAGNOSTIC = 1024;
