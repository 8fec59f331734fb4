/**
 * The native addon's op codes, defined once. A kernel family's code for an op is its index in
 * the family's list; each entry pairs the tfjs kernel name (what the JS side registers over)
 * with the C++ enumerator (what native/*.cc switches on). native/op_codes.h is generated from
 * this file by `npm run gen:op-codes` (part of `npm run build:native`), and a test requires the
 * checked-in header to equal opCodesHeader(), so the two sides cannot drift apart.
 */

export const BINARY_OPS = [
  ["Add", "ADD"],
  ["Sub", "SUB"],
  ["Multiply", "MUL"],
  ["RealDiv", "DIV"],
  ["Maximum", "MAXIMUM"],
  ["Minimum", "MINIMUM"],
  ["SquaredDifference", "SQDIFF"],
  ["Pow", "POW"],
] as const;

export const UNARY_OPS = [
  ["Exp", "EXP"],
  ["Log", "LOG"],
  ["Sqrt", "SQRT"],
  ["Rsqrt", "RSQRT"],
  ["Neg", "NEG"],
  ["Sigmoid", "SIGMOID"],
  ["Tanh", "TANH"],
  ["Square", "SQUARE"],
  ["Abs", "ABS"],
  ["Relu", "RELU"],
  ["Reciprocal", "RECIPROCAL"],
  ["Softplus", "SOFTPLUS"],
  ["Log1p", "LOG1P"],
  ["Expm1", "EXPM1"],
  ["Sign", "SIGN"],
  ["Step", "STEP"],
  ["Relu6", "RELU6"],
  ["Elu", "ELU"],
  ["LeakyRelu", "LEAKY"],
] as const;

export const REDUCE_OPS = [
  ["Sum", "RSUM"],
  ["Max", "RMAX"],
  ["Min", "RMIN"],
  ["Mean", "RMEAN"],
  ["Prod", "RPROD"],
] as const;

type Table = readonly (readonly [string, string])[];
export type BinaryKernel = (typeof BINARY_OPS)[number][0];
export type UnaryKernel = (typeof UNARY_OPS)[number][0];
export type ReduceKernel = (typeof REDUCE_OPS)[number][0];

function codes<K extends string>(table: readonly (readonly [K, string])[]): Record<K, number> {
  return Object.fromEntries(table.map(([kernel], i) => [kernel, i])) as Record<K, number>;
}

/** tfjs kernel name -> the op code the addon expects. */
export const BINARY_CODE = codes(BINARY_OPS);
export const UNARY_CODE = codes(UNARY_OPS);
export const REDUCE_CODE = codes(REDUCE_OPS);

/** The C++ header native/*.cc include: one enum per family, and an X-macro list per family for switches over every op. */
export function opCodesHeader(): string {
  const family = (enumName: string, macro: string, table: Table) => {
    const members = table.map(([kernel, cpp], i) => `  ${cpp} = ${i},  // ${kernel}`).join("\n");
    const list = table.map(([, cpp]) => `X(${cpp})`).join(" ");
    return `enum ${enumName} {\n${members}\n};\n#define ${macro}(X) ${list}\n`;
  };
  return [
    "// Generated from src/engine/op-codes.ts by `npm run gen:op-codes`; do not edit by hand.",
    "// A test fails when this file and the TS table differ.",
    "#pragma once",
    "",
    "namespace lavit {",
    "",
    family("BinaryOp", "LAVIT_BINARY_OPS", BINARY_OPS),
    family("UnaryOp", "LAVIT_UNARY_OPS", UNARY_OPS),
    family("ReduceOp", "LAVIT_REDUCE_OPS", REDUCE_OPS),
    "}  // namespace lavit",
    "",
  ].join("\n");
}
