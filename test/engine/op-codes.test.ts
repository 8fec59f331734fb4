import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY_CODE, BINARY_OPS, REDUCE_CODE, REDUCE_OPS, UNARY_CODE, UNARY_OPS, opCodesHeader } from "../../src/engine/op-codes.js";

const native = join(process.cwd(), "native");

describe("the op-code table", () => {
  it("is the one native/op_codes.h is generated from (run `npm run gen:op-codes` after editing it)", () => {
    expect(readFileSync(join(native, "op_codes.h"), "utf8")).toBe(opCodesHeader());
  });

  it("gives every op a distinct code, its index, under a distinct C++ name", () => {
    for (const [table, code] of [
      [BINARY_OPS, BINARY_CODE],
      [UNARY_OPS, UNARY_CODE],
      [REDUCE_OPS, REDUCE_CODE],
    ] as const) {
      table.forEach(([kernel], i) => expect((code as Record<string, number>)[kernel]).toBe(i));
      expect(new Set(table.map(([k]) => k)).size).toBe(table.length);
    }
    const cpp = [...BINARY_OPS, ...UNARY_OPS, ...REDUCE_OPS].map(([, c]) => c);
    expect(new Set(cpp).size).toBe(cpp.length);
  });

  it("is the only definition of the codes: no kernel source declares its own op enum", () => {
    for (const file of ["elementwise.cc", "reduce.cc"]) {
      const src = readFileSync(join(native, file), "utf8");
      expect(src).toContain('#include "op_codes.h"');
      expect(src, file).not.toMatch(/enum\s+(BinaryOp|UnaryOp|ReduceOp)\b/);
    }
  });

  it("is what the header says, code by code", () => {
    const header = readFileSync(join(native, "op_codes.h"), "utf8");
    for (const table of [BINARY_OPS, UNARY_OPS, REDUCE_OPS]) table.forEach(([kernel, cpp], i) => expect(header).toContain(`  ${cpp} = ${i},  // ${kernel}\n`));
  });
});
