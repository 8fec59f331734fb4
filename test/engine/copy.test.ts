import { describe, expect, it, beforeAll } from "vitest";
import { tf } from "../../src/engine/index.js";
import type { NativeAddon } from "../../src/engine/addon.js";
import { copyBlock, registerJsKernels, registerNativeKernels, type KernelRegistration } from "../../src/engine/kernels/index.js";
import { Rng } from "../../src/util/rng.js";
import { expectKernelsMatchTfjs, loadAddonForTests, randn } from "./helpers.js";

/**
 * The block-copy kernels (Slice, PadV2, Concat) against tfjs's own, forward and gradient, on
 * odd shapes. They are registered on every tier, so they are tested on the JS tier's
 * registration always and on the native tier's when the addon is built.
 */
let addon: NativeAddon | null = null;
const rng = new Rng(321);

beforeAll(async () => {
  addon = await loadAddonForTests();
});

const tiers: [string, () => KernelRegistration | null][] = [
  ["js", () => registerJsKernels()],
  ["native", () => (addon ? registerNativeKernels(addon) : null)],
];

// Slice boxes: strided, contiguous, whole trailing axes, single elements, -1 sizes, empty, rank 1.
const sliceCases: [number[], number[], number[]][] = [
  [
    [4, 5, 6],
    [1, 2, 3],
    [2, 3, 2],
  ],
  [
    [4, 5, 6],
    [1, 0, 0],
    [2, 5, 6],
  ],
  [
    [4, 5, 6],
    [0, 1, 0],
    [4, 3, 6],
  ],
  [
    [4, 5, 6],
    [3, 4, 5],
    [1, 1, 1],
  ],
  [
    [2, 3, 4, 40],
    [1, 0, 2, 7],
    [1, -1, 2, 20],
  ],
  [
    [3, 7, 5, 19],
    [1, 2, 1, 0],
    [2, 3, 3, 19],
  ],
  [
    [6, 7],
    [2, 3],
    [0, 4],
  ],
  [[9], [2], [5]],
];

// Concat: every axis, uneven parts, a single part, empty parts (dropped, as tfjs does), rank 1.
const concatCases: [number[][], number][] = [
  [
    [
      [2, 3, 4],
      [2, 5, 4],
    ],
    1,
  ],
  [
    [
      [2, 3, 4],
      [1, 3, 4],
      [3, 3, 4],
    ],
    0,
  ],
  [
    [
      [2, 3, 4],
      [2, 3, 1],
    ],
    2,
  ],
  [
    [
      [2, 4, 7, 8],
      [2, 4, 1, 8],
    ],
    -2,
  ],
  [
    [
      [3, 5, 7],
      [3, 2, 7],
      [3, 1, 7],
    ],
    1,
  ],
  [[[3, 5]], 1],
  [
    [
      [2, 0, 4],
      [2, 3, 4],
    ],
    1,
  ],
  [[[5], [2]], 0],
];

for (const [tierName, register] of tiers) {
  describe(`block-copy kernels on the ${tierName} tier match tfjs's`, () => {
    const reg = register;
    const skip = () => tierName === "native" && !addon;

    it("registers Slice, PadV2 and Concat", () => {
      if (skip()) return;
      const r = reg()!;
      expect(r.kernels).toEqual(expect.arrayContaining(["Concat", "PadV2", "Slice"]));
      r.restore();
    });

    for (const [shape, begin, size] of sliceCases) {
      it(`slice ${JSON.stringify(shape)} at ${JSON.stringify(begin)} size ${JSON.stringify(size)}: forward and gradient (pad)`, () => {
        if (skip()) return;
        const x = randn(rng, shape);
        expectKernelsMatchTfjs(
          () => reg()!,
          "slice",
          () => tf.slice(x, begin, size),
        );
        expectKernelsMatchTfjs(
          () => reg()!,
          "slice grad",
          () => tf.grad((y: tf.Tensor) => tf.sum(tf.square(tf.slice(y, begin, size))))(x),
        );
        x.dispose();
      });
    }

    it("pad with a constant, including 0-wide and whole-axis paddings, forward and gradient", () => {
      if (skip()) return;
      const x = randn(rng, [3, 4, 5]);
      for (const [paddings, value] of [
        [
          [
            [1, 2],
            [0, 0],
            [3, 1],
          ],
          0,
        ],
        [
          [
            [0, 0],
            [2, 2],
            [0, 0],
          ],
          -1.5,
        ],
        [
          [
            [0, 0],
            [0, 0],
            [0, 0],
          ],
          7,
        ],
        [
          [
            [2, 0],
            [1, 3],
            [0, 2],
          ],
          0.5,
        ],
      ] as [[number, number][], number][]) {
        expectKernelsMatchTfjs(
          () => reg()!,
          `pad ${JSON.stringify(paddings)} ${value}`,
          () => tf.pad(x, paddings, value),
        );
        expectKernelsMatchTfjs(
          () => reg()!,
          `pad grad ${JSON.stringify(paddings)}`,
          () => tf.grad((y: tf.Tensor) => tf.sum(tf.square(tf.pad(y, paddings, value))))(x),
        );
      }
      x.dispose();
    });

    for (const [shapes, axis] of concatCases) {
      it(`concat ${JSON.stringify(shapes)} on axis ${axis}: forward and gradient`, () => {
        if (skip()) return;
        const xs = shapes.map((s) => randn(rng, s));
        const weights = xs.map((_, i) => i + 1);
        expectKernelsMatchTfjs(
          () => reg()!,
          "concat",
          () => tf.concat(xs, axis),
        );
        expectKernelsMatchTfjs(
          () => reg()!,
          "concat grad",
          () =>
            tf.grads((...ys: tf.Tensor[]) =>
              tf.sum(
                tf.square(
                  tf.concat(
                    ys.map((y, i) => tf.mul(y, weights[i])),
                    axis,
                  ),
                ),
              ),
            )(xs),
        );
        tf.dispose(xs);
      });
    }

    it("int32 inputs fall through to tfjs's kernels", () => {
      if (skip()) return;
      const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], "int32");
      expectKernelsMatchTfjs(
        () => reg()!,
        "int slice",
        () => tf.cast(tf.slice(a, [0, 1], [2, 2]), "float32"),
      );
      expectKernelsMatchTfjs(
        () => reg()!,
        "int concat",
        () => tf.cast(tf.concat([a, a], 1), "float32"),
      );
      a.dispose();
    });
  });
}

describe("copyBlock", () => {
  it("copies a strided box between arrays of different shapes", () => {
    const src = Float32Array.from({ length: 24 }, (_, i) => i); // [2, 3, 4]
    const dst = new Float32Array(3 * 5).fill(-1); // [3, 5]
    copyBlock(src, [2, 3, 4], [1, 1, 2], dst, [1, 3, 5], [0, 1, 3], [1, 2, 2]);
    // rows 1..2 of batch 1, columns 2..3 -> dst rows 1..2, columns 3..4
    expect(Array.from(dst)).toEqual([-1, -1, -1, -1, -1, -1, -1, -1, 18, 19, -1, -1, -1, 22, 23]);
  });
});
