// One teardown stack: whatever is set up registers its undo step right away; unwind() runs them in reverse order,
// each one even when an earlier one failed, and says which failed. The lab cluster and the run's stages use it.
import { log } from './log.js';

export class TeardownStack {
  private readonly steps: { label: string; fn: () => Promise<unknown> | unknown }[] = [];

  constructor(
    private readonly scope: string,
    private readonly run: string,
  ) {}

  /** Register an undo step (logged as "set up <label>"). */
  push(label: string, fn: () => Promise<unknown> | unknown): void {
    log.info({ setup: label, scope: this.scope, run: this.run }, 'set up');
    this.steps.push({ label, fn });
  }

  get size(): number {
    return this.steps.length;
  }

  /** Run every registered step, newest first; returns "label: message" for each that failed. Idempotent. */
  async unwind(): Promise<string[]> {
    const errors: string[] = [];
    for (let s = this.steps.pop(); s; s = this.steps.pop()) {
      log.info({ teardown: s.label, scope: this.scope, run: this.run }, 'tear down');
      try {
        await s.fn();
      } catch (e) {
        errors.push(`${s.label}: ${(e as Error).message}`);
      }
    }
    return errors;
  }
}
