/** A map that keeps its `capacity` most recently used entries, computing a missing one on demand. */
export class LruCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity > 0)) throw new Error(`LruCache: capacity ${capacity} must be a positive integer`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The entry for key, made the most recent; computed (and the least recent dropped past capacity) when absent. */
  get(key: K, make: (key: K) => V): V {
    if (this.entries.has(key)) {
      const v = this.entries.get(key)!;
      this.entries.delete(key);
      this.entries.set(key, v);
      return v;
    }
    const v = make(key);
    this.entries.set(key, v);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
    return v;
  }
}
