import { describe, expect, it, beforeAll } from "vitest";
import { tf } from "../../src/engine/index.js";
import type { NativeAddon } from "../../src/engine/addon.js";
import { broadcastGeometry } from "../../src/engine/kernels/index.js";
import { REDUCE_CODE } from "../../src/engine/op-codes.js";
import { Rng } from "../../src/util/rng.js";
import { expectNativeMatchesJs, loadAddonForTests, randn } from "./helpers.js";

let addon: NativeAddon | null = null;
const rng = new Rng(123);

beforeAll(async () => {
  addon = await loadAddonForTests();
  if (!addon && process.env.LAVIT_EXPECT_NATIVE === "1") throw new Error("LAVIT_EXPECT_NATIVE=1 but the native kernel pack did not load");
  if (!addon) console.warn("native kernel pack not built: native-vs-JS kernel tests are skipped");
});

const nat = () => addon as NativeAddon;

describe("native kernels match the JS kernels", () => {
  it("loads", () => {
    if (!addon) return;
    const info = addon.info();
    expect(["native-openblas", "native-builtin"]).toContain(info.tier);
  });

  const matmulCases: [number[], number[], boolean, boolean][] = [
    [[1, 1], [1, 1], false, false],
    [[7, 33], [33, 5], false, false],
    [[33, 7], [33, 5], true, false],
    [[7, 33], [5, 33], false, true],
    [[33, 7], [5, 33], true, true],
    [[100, 17], [17, 9], false, false],
    [[2, 3, 7, 9], [3, 9, 5], false, false],
    [[4, 7, 9], [9, 5], false, false],
    [[7, 9], [4, 9, 5], false, false],
    [[6, 9, 7], [6, 5, 9], true, true],
    [[0, 5], [5, 3], false, false],
    [[3, 0], [0, 4], false, false],
    [[2, 0, 4], [2, 4, 3], false, false],
    // Large enough for the native kernel to split one product over its thread pool:
    // by rows of the output (all four transpositions), by columns when the output is short and wide.
    [[200, 100], [100, 120], false, false],
    [[100, 200], [100, 120], true, false],
    [[200, 100], [120, 100], false, true],
    [[100, 200], [120, 100], true, true],
    [[20, 200], [200, 300], false, false],
    [[200, 20], [300, 200], true, true],
    [[2, 130, 160], [2, 160, 110], false, false],
  ];
  for (const [as, bs, ta, tb] of matmulCases) {
    it(`BatchMatMul ${JSON.stringify(as)} x ${JSON.stringify(bs)} ta=${ta} tb=${tb}: forward and gradient`, () => {
      if (!addon) return;
      const a = randn(rng, as);
      const b = randn(rng, bs);
      expectNativeMatchesJs(nat(), "matmul", () => tf.matMul(a, b, ta, tb));
      // tfjs's BatchMatMul gradient does not sum over broadcast batch axes (a tfjs limitation,
      // JS and native alike), so gradients are compared where batch shapes agree.
      const sameBatch = JSON.stringify(as.slice(0, -2)) === JSON.stringify(bs.slice(0, -2));
      if (sameBatch)
        expectNativeMatchesJs(nat(), "matmul grad", () =>
          tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, ta, tb), tf.matMul(x, y, ta, tb))))([a, b]),
        );
      tf.dispose([a, b]);
    });
  }

  for (const activation of ["linear", "relu", "sigmoid", "elu", "relu6", "leakyrelu"] as const) {
    it(`_FusedMatMul with bias and ${activation}: forward and gradient`, () => {
      if (!addon) return;
      const a = randn(rng, [7, 33]);
      const b = randn(rng, [5, 33]);
      const bias = randn(rng, [5]);
      expectNativeMatchesJs(nat(), `fused ${activation}`, () =>
        tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, transposeB: true, bias, activation }),
      );
      if (activation === "linear" || activation === "relu" || activation === "sigmoid") {
        expectNativeMatchesJs(nat(), `fused ${activation} grad`, () =>
          tf.grads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
            tf.sum(tf.square(tf.fused.matMul({ a: x as tf.Tensor2D, b: y as tf.Tensor2D, transposeB: true, bias: z, activation }))),
          )([a, b, bias]),
        );
      }
      tf.dispose([a, b, bias]);
    });
  }

  const broadcastCases: [number[], number[]][] = [
    [
      [7, 33],
      [7, 33],
    ],
    [[2, 3, 4], [4]],
    [
      [2, 1, 4],
      [3, 1],
    ],
    [[1], [7, 33]],
    [[], [5, 3]],
    [
      [5, 1, 7],
      [1, 3, 1],
    ],
    [
      [2, 3, 4, 5],
      [3, 1, 5],
    ],
    [[0, 3], [3]],
    [[1, 1, 1], [1]],
  ];
  const binaries: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ["add", tf.add],
    ["sub", tf.sub],
    ["mul", tf.mul],
    ["div", tf.div],
    ["maximum", tf.maximum],
    ["minimum", tf.minimum],
    ["squaredDifference", tf.squaredDifference],
  ];
  for (const [as, bs] of broadcastCases) {
    it(`binary ops broadcast ${JSON.stringify(as)} with ${JSON.stringify(bs)}: forward and gradient`, () => {
      if (!addon) return;
      const a = randn(rng, as);
      const b = tf.add(randn(rng, bs), 3); // keep divisors away from zero
      for (const [name, op] of binaries) {
        expectNativeMatchesJs(nat(), `${name} fwd`, () => op(a, b));
        expectNativeMatchesJs(nat(), `${name} swapped fwd`, () => op(b, a));
        // tfjs's SquaredDifference gradient does not reduce over broadcast axes (JS and native alike).
        const sameShape = JSON.stringify(as) === JSON.stringify(bs);
        if (name !== "maximum" && name !== "minimum" && (name !== "squaredDifference" || sameShape)) {
          expectNativeMatchesJs(nat(), `${name} grad`, () => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(op(x, y))))([a, b]));
        }
      }
      tf.dispose([a, b]);
    });
  }

  it("pow matches", () => {
    if (!addon) return;
    const a = tf.abs(randn(rng, [7, 33]));
    const b = randn(rng, [33]);
    expectNativeMatchesJs(nat(), "pow", () => tf.pow(a, b));
  });

  const unaries: [string, (x: tf.Tensor) => tf.Tensor, boolean][] = [
    ["exp", tf.exp, false],
    ["log", (x) => tf.log(tf.abs(x)), true],
    ["sqrt", (x) => tf.sqrt(tf.abs(x)), true],
    ["rsqrt", (x) => tf.rsqrt(tf.add(tf.abs(x), 0.1)), true],
    ["neg", tf.neg, false],
    ["sigmoid", tf.sigmoid, false],
    ["tanh", tf.tanh, false],
    ["square", tf.square, false],
    ["abs", tf.abs, false],
    ["relu", tf.relu, false],
    ["relu6", (x) => tf.relu6(tf.mul(x, 4)), false],
    ["elu", tf.elu, false],
    ["leakyRelu", (x) => tf.leakyRelu(x, 0.1), false],
    ["reciprocal", (x) => tf.reciprocal(tf.add(tf.abs(x), 0.5)), true],
    ["softplus", tf.softplus, false],
    ["log1p", (x) => tf.log1p(tf.abs(x)), true],
    ["expm1", tf.expm1, false],
    ["sign", tf.sign, false],
    ["step", (x) => tf.step(x, 0.3), false],
  ];
  for (const shape of [[7, 33], [1], [0, 4], [100, 17]]) {
    it(`unary ops on ${JSON.stringify(shape)}: forward and gradient`, () => {
      if (!addon) return;
      const x = randn(rng, shape);
      for (const [name, op] of unaries) {
        expectNativeMatchesJs(nat(), `${name} fwd`, () => op(x));
        expectNativeMatchesJs(nat(), `${name} grad`, () => tf.grad((y: tf.Tensor) => tf.sum(tf.mul(op(y), op(y))))(x));
      }
      x.dispose();
    });
  }

  const reduceCases: [number[], number | number[] | undefined][] = [
    [[7, 33], -1],
    [[7, 33], 0],
    [[7, 33], undefined],
    [
      [2, 3, 4, 5],
      [1, 3],
    ],
    [
      [2, 3, 4, 5],
      [0, 2],
    ],
    [[1], 0],
    [[5, 0], 1],
    [[3, 1, 7], 1],
    // leading axes (column sums: bias gradients), across the kernel's 256-column blocks and the thread split
    [[37, 300], 0],
    [
      [3, 5, 7],
      [0, 1],
    ],
    [[1030, 77], 0],
    [[0, 4], 0],
  ];
  for (const [shape, axis] of reduceCases) {
    it(`reductions over ${JSON.stringify(axis)} of ${JSON.stringify(shape)}: forward and gradient`, () => {
      if (!addon) return;
      const x = randn(rng, shape);
      for (const keep of [false, true]) {
        expectNativeMatchesJs(nat(), "sum", () => tf.sum(x, axis, keep));
        expectNativeMatchesJs(nat(), "mean", () => tf.mean(x, axis, keep));
        if (x.size > 0) {
          expectNativeMatchesJs(nat(), "max", () => tf.max(x, axis, keep));
          expectNativeMatchesJs(nat(), "min", () => tf.min(x, axis, keep));
          expectNativeMatchesJs(nat(), "prod", () => tf.prod(x, axis, keep));
        }
        expectNativeMatchesJs(nat(), "sum/mean grad", () =>
          tf.grad((y: tf.Tensor) => tf.add(tf.sum(tf.square(tf.sum(y, axis, keep))), tf.sum(tf.square(tf.mean(y, axis, keep)))))(x),
        );
      }
      x.dispose();
    });
  }

  it("column sums give the bits of reducing the transpose innermost", () => {
    if (!addon) return;
    for (const [outer, inner] of [
      [37, 300],
      [1030, 77],
      [8, 5],
      [3, 600],
    ]) {
      const x = Float32Array.from({ length: outer * inner }, () => rng.normal() * 10);
      const xt = new Float32Array(x.length);
      for (let i = 0; i < outer; i++) for (let j = 0; j < inner; j++) xt[j * outer + i] = x[i * inner + j];
      for (const op of [REDUCE_CODE.Sum, REDUCE_CODE.Mean]) {
        const a = new Float32Array(inner);
        const b = new Float32Array(inner);
        addon.reduceOuter(op, x, a, outer, inner);
        addon.reduceInner(op, xt, b, inner, outer);
        expect(Array.from(a), `${outer}x${inner} op ${op}`).toEqual(Array.from(b));
      }
    }
  });

  for (const shape of [
    [7, 33],
    [2, 3, 1],
    [4, 2, 9, 9],
    [1, 1],
  ]) {
    it(`softmax and logSoftmax on ${JSON.stringify(shape)}: forward and gradient`, () => {
      if (!addon) return;
      const x = tf.mul(randn(rng, shape), 3);
      const w = randn(rng, shape);
      expectNativeMatchesJs(nat(), "softmax", () => tf.softmax(x));
      expectNativeMatchesJs(nat(), "logSoftmax", () => tf.logSoftmax(x));
      expectNativeMatchesJs(nat(), "softmax grad", () => tf.grad((y: tf.Tensor) => tf.sum(tf.mul(tf.softmax(y), w)))(x));
      tf.dispose([x, w]);
    });
  }

  it("softmax of a row masked with -inf stays finite where JS does", () => {
    if (!addon) return;
    const x = tf.tensor2d([
      [0, -Infinity, 1, 2],
      [3, 3, -Infinity, 3],
    ]);
    expectNativeMatchesJs(nat(), "masked softmax", () => tf.softmax(x));
    x.dispose();
  });

  const transposeCases: [number[], number[]][] = [
    [
      [7, 33],
      [1, 0],
    ],
    [
      [2, 3, 4, 5],
      [0, 2, 1, 3],
    ],
    [
      [2, 3, 4, 5],
      [3, 1, 0, 2],
    ],
    [
      [1, 7, 1],
      [2, 0, 1],
    ],
    [
      [0, 3],
      [1, 0],
    ],
    [[5], [0]],
  ];
  for (const [shape, perm] of transposeCases) {
    it(`transpose ${JSON.stringify(shape)} by ${JSON.stringify(perm)}: forward and gradient`, () => {
      if (!addon) return;
      const x = randn(rng, shape);
      const w = randn(
        rng,
        perm.map((p) => shape[p]),
      );
      expectNativeMatchesJs(nat(), "transpose", () => tf.transpose(x, perm));
      expectNativeMatchesJs(nat(), "transpose grad", () => tf.grad((y: tf.Tensor) => tf.sum(tf.mul(tf.transpose(y, perm), w)))(x));
      tf.dispose([x, w]);
    });
  }

  it("int32 inputs fall through to the JS kernels", () => {
    if (!addon) return;
    const a = tf.tensor1d([1, 2, 3], "int32");
    const b = tf.tensor1d([4, 5, 6], "int32");
    expectNativeMatchesJs(nat(), "int add", () => tf.cast(tf.add(a, b), "float32"));
    tf.dispose([a, b]);
  });
});

describe("broadcast geometry", () => {
  it("merges contiguous axes and zeroes broadcast strides", () => {
    const g = broadcastGeometry([2, 3, 4], [4]);
    expect(g.outShape).toEqual([2, 3, 4]);
    expect(Array.from(g.shape)).toEqual([6, 4]);
    expect(Array.from(g.sa)).toEqual([4, 1]);
    expect(Array.from(g.sb)).toEqual([0, 1]);
  });
  it("keeps axes apart where one input broadcasts", () => {
    const g = broadcastGeometry([2, 1, 4], [3, 1]);
    expect(g.outShape).toEqual([2, 3, 4]);
    expect(Array.from(g.shape)).toEqual([2, 3, 4]);
    expect(Array.from(g.sa)).toEqual([4, 0, 1]);
    expect(Array.from(g.sb)).toEqual([0, 1, 0]);
  });
});
