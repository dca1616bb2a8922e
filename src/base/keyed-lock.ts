/**
 * One operation at a time per key, in the order asked; different keys run
 * at once. A failed operation does not stop the ones queued after it.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const p = prev.then(fn, fn);
    const tail = p.catch(() => undefined); // the caller gets the failure through p
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return p;
  }

  /** An operation on this key is running or queued. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }
}
