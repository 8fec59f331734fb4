import { centre, type CentreRange, type SceneObject } from "../scene.js";

export const RELATIONS = ["left", "right", "above", "below"] as const;
export type Relation = (typeof RELATIONS)[number];
export const RELATION_PHRASE: Record<Relation, string> = { left: "left of", right: "right of", above: "above", below: "below" };
export const OPPOSITE_RELATION: Record<Relation, Relation> = { left: "right", right: "left", above: "below", below: "above" };

/** Where an object's centre must be to stand in `rel` to `anchor`, by at least margin `m`. */
export function relationRange(rel: Relation, anchor: SceneObject, m: number): CentreRange {
  const { cx, cy } = centre(anchor);
  switch (rel) {
    case "left":
      return { cxMax: cx - m };
    case "right":
      return { cxMin: cx + m };
    case "above":
      return { cyMax: cy - m };
    case "below":
      return { cyMin: cy + m };
  }
}

/** Whether `a` stands in `rel` to `b`, by at least margin `m` between their centres. */
export function relationHolds(rel: Relation, a: SceneObject, b: SceneObject, m: number): boolean {
  const ca = centre(a);
  const cb = centre(b);
  switch (rel) {
    case "left":
      return ca.cx <= cb.cx - m;
    case "right":
      return ca.cx >= cb.cx + m;
    case "above":
      return ca.cy <= cb.cy - m;
    case "below":
      return ca.cy >= cb.cy + m;
  }
}
