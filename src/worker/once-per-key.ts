/**
 * One piece of work per key, shared by every caller while it runs and once it is done (a mount,
 * an unpacked package); work that failed is forgotten, so the next caller starts it again.
 */
export class OncePerKey<T> {
  private readonly work = new Map<string, Promise<T>>();

  get(key: string, start: () => Promise<T>): Promise<T> {
    let promise = this.work.get(key);
    if (!promise) {
      promise = start();
      this.work.set(key, promise);
      promise.catch(() => this.work.delete(key));
    }
    return promise;
  }

  forget(key: string): void {
    this.work.delete(key);
  }

  get size(): number {
    return this.work.size;
  }

  /** Everything held (for a shutdown to undo), forgotten. */
  takeAll(): Promise<T>[] {
    const all = [...this.work.values()];
    this.work.clear();
    return all;
  }
}
