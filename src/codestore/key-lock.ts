/**
 * Runs async work one at a time per key, within this process: a filesystem store's put and its
 * conditional delete of the same blob must not interleave (the delete's check and its removal
 * would otherwise straddle a put that refreshed the blob).
 */
export class KeyLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(fn);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
