// A timing wheel for periodic work: every item fires once per period at a fixed, random phase (the jittered start),
// driven by one timer for all items instead of one timer per channel.
export class Wheel<T> {
  private readonly slots: Set<T>[];
  private readonly where = new Map<T, number>();
  private lastTick: number;

  constructor(
    periodMs: number,
    private readonly tickMs: number,
    now = performance.now(),
  ) {
    this.slots = Array.from({ length: Math.max(1, Math.round(periodMs / tickMs)) }, () => new Set<T>());
    this.lastTick = Math.floor(now / tickMs);
  }

  get size(): number {
    return this.where.size;
  }

  /** Add an item at a random phase: it first fires within one period. */
  add(item: T): void {
    const slot = Math.floor(Math.random() * this.slots.length);
    this.slots[slot].add(item);
    this.where.set(item, slot);
  }

  remove(item: T): void {
    const slot = this.where.get(item);
    if (slot === undefined) return;
    this.slots[slot].delete(item);
    this.where.delete(item);
  }

  /** Fire every item whose phase passed since the last call (each at most once, even after a long stall). */
  advance(now: number, fire: (item: T) => void): void {
    const cur = Math.floor(now / this.tickMs);
    const n = this.slots.length;
    const from = Math.max(this.lastTick + 1, cur - n + 1);
    for (let t = from; t <= cur; t++) for (const item of this.slots[t % n]) fire(item);
    this.lastTick = Math.max(this.lastTick, cur);
  }
}
