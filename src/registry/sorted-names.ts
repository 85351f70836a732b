/**
 * Names kept in ListFunctions' order (UTF-16 code units, as `<` compares strings), so a page
 * after a marker is a binary search and a slice: O(log n + page), whatever the page's position.
 * Adding or removing a name shifts the array once (a memmove of pointers), never sorts it.
 */
export class SortedNames {
  private readonly names: string[] = [];

  get size(): number {
    return this.names.length;
  }

  add(name: string): void {
    const at = this.lowerBound(name);
    if (this.names[at] !== name) this.names.splice(at, 0, name);
  }

  delete(name: string): void {
    const at = this.lowerBound(name);
    if (this.names[at] === name) this.names.splice(at, 1);
  }

  /** Up to `max` names after `marker` (from the first without one), and whether more follow. */
  page(marker: string | undefined, max: number): { names: string[]; more: boolean } {
    const start = marker === undefined ? 0 : this.upperBound(marker);
    const names = this.names.slice(start, start + max);
    return { names, more: start + max < this.names.length };
  }

  /** The first index whose name is not below `name`. */
  private lowerBound(name: string): number {
    let lo = 0;
    let hi = this.names.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.names[mid] as string) < name) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The first index whose name is above `name`. */
  private upperBound(name: string): number {
    let lo = 0;
    let hi = this.names.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.names[mid] as string) <= name) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
