import type { Rng } from "../../util/rng.js";
import type { Composition } from "../render.js";
import type { SceneContext, SceneObject } from "../scene.js";

/** The question families, in the fixed order the generator draws from (and reports in). */
export const FAMILIES = ["attribute", "spatial", "depth", "counting", "multihop"] as const;
export type FamilyName = (typeof FAMILIES)[number];

/**
 * A question template. Its key names everything in the wording a language prior can latch
 * onto (the shape asked about, the relation, ...), so "the most frequent answer for this
 * template" is exactly what a model that never looks at the image can learn.
 */
export interface Template {
  key: string;
  family: FamilyName;
  choices: readonly string[];
}

/** Object indices each role refers to; the rationale steps are derived from them. */
export interface Roles {
  target?: number;
  anchor?: number;
  a?: number;
  b?: number;
  counted?: number[];
  distractor?: number;
}

/** A question about a scene, before rendering. */
export interface Draft {
  template: Template;
  question: string;
  answer: string;
  objects: SceneObject[];
  roles: Roles;
}

/** One rationale step as the manifest stores it. */
export interface RationaleStep {
  text: string;
  objects: number[];
  patches: number[];
}

/**
 * Everything one question family knows: its templates, how to build a scene with a given
 * answer, how to read the answer back from the scene, what its rationale looks at, and how to
 * flip the answer for a minimal pair. `questions.ts` dispatches to these.
 */
export interface Family {
  readonly name: FamilyName;
  readonly templates: readonly Template[];
  /** A scene (depths assigned) whose true answer to `t` is `answer`, or null to try again. */
  build(rng: Rng, ctx: SceneContext, t: Template, answer: string): Draft | null;
  /** The answer recomputed from the objects alone, "?" when the scene does not decide it. */
  answer(d: Draft, ctx: SceneContext): string;
  /** The objects each "look <located objects>" rationale step looks at, one list per step. */
  steps(d: Draft): number[][];
  /** Rationale steps after those, saying the verdict in fixed words (yes/no families). */
  verdict?(d: Draft, comp: Composition, coverage: Map<number, number>[], ctx: SceneContext): RationaleStep[];
  /** Conditions on a scene beyond the shared ones (visibility, distinct names, the answer). */
  check?(d: Draft, comp: Composition, ctx: SceneContext): boolean;
  /**
   * Turns `f`, a copy of `d`, into its minimal-pair partner: one object changed so the answer
   * to the same question differs; sets `f.answer`. False when this attempt found no spot.
   */
  flip(rng: Rng, ctx: SceneContext, f: Draft, d: Draft): boolean;
}
