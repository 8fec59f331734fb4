import { expect } from "vitest";
import { UserError } from "../../src/errors.js";

/** Reads or refuses with a UserError; anything else (TypeError, RangeError, a hang) fails the test. */
export function acceptOrRefuse(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    expect(e.message.length).toBeLessThan(2000);
  }
}
