/**
 * FNV-1a (32 bit) of a string's UTF-16 code units: a fixed, seed-free hash, so a key (a
 * template, a sample's place in its split, a training step) always maps to the same number.
 */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
