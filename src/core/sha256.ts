/**
 * SHA-256 as lowercase hex through WebCrypto, which browsers, Workers and Node (≥ 19) all provide
 * natively: no hashing library in the bundle, and it runs off the JS thread for large blocks.
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
