import { z } from "zod";

// The records both signal layouts share: a metadata result, and a sample's signals as read.

export const resultSchema = z
  .object({
    id: z.string().optional(),
    /** The official layout's integer id (see official-layout.ts for the join rule). */
    question_id: z.number().int().optional(),
    question: z.string(),
    image_relative_path: z.string(),
    ground_truth_enriched: z.string(),
    answer: z.string().optional(),
    v_top_path_abs: z.string().optional(),
    attention_path_abs: z.string(),
  })
  .passthrough();

export type SignalResult = z.infer<typeof resultSchema>;

export interface SampleSignals {
  result: SignalResult;
  /** One distribution per step over the target grid (resized when needed), each summing to 1. */
  steps: Float32Array[];
  /** The stored top-k indices on the target grid. */
  topk: number[][];
  /** V_top [rows, dim] as stored (rows = the teacher's image tokens). */
  vTop: { rows: number; dim: number; data: Float32Array };
}

/** A sample of a folder read without V_top (`readSignals(dir, grid, { vTop: false })`). */
export type TrajectorySignals = Omit<SampleSignals, "vTop"> & { vTop?: SampleSignals["vTop"] };
