import type { Sample } from "../data/manifest.js";

// What extraction hands to a signal layout's writer (lavit's or the official one).

import type { SignalMethod } from "./extract-summary.js";

export type { SignalMethod };

/** One sample's extracted signals, handed to the layout's writer. */
export interface ExtractedSample {
  /** Index of the sample in its split. */
  index: number;
  sample: Sample;
  steps: { p_t: number[]; p_topk_idx: number[]; method: SignalMethod; text: string }[];
  /** [rows, dim], row-major. */
  vTop: Float32Array;
  rows: number;
  dim: number;
  groundTruth: string;
  /** Absolute path of the sample's image. */
  imageFile: string;
}

export interface SignalsWriterOptions {
  outDir: string;
  finalDir: string;
  method: SignalMethod;
  tau: number;
  split: string;
  grid: number;
  teacherHiddenSize: number;
}

export interface SignalsWriter {
  add(s: ExtractedSample): void;
  /** Writes the metadata once every sample is in. */
  finish(): void;
}
