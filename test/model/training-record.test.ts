import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { trajHeadTrained } from "../../src/model/training-record.js";

function folder(state?: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "lavit-record-"));
  if (state !== undefined) writeFileSync(join(dir, "trainer_state.json"), typeof state === "string" ? state : JSON.stringify(state));
  return dir;
}

describe("trajHeadTrained", () => {
  it("reads the run's recorded trajectory loss: trained only with wTraj > 0 on the head", () => {
    expect(trajHeadTrained(folder({ settings: { wTraj: 0.3, trajSource: "head" } }))).toBe(true);
    expect(trajHeadTrained(folder({ settings: { wTraj: 0, trajSource: "head" } }))).toBe(false);
    expect(trajHeadTrained(folder({ settings: { wTraj: 0.3, trajSource: "attention" } }))).toBe(false);
  });

  it("takes a folder without a readable record as trained (a model made elsewhere ships its head)", () => {
    expect(trajHeadTrained(folder())).toBe(true);
    expect(trajHeadTrained(folder("{not json"))).toBe(true);
    expect(trajHeadTrained(folder({ settings: {} }))).toBe(true);
  });
});
