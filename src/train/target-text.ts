/**
 * What a student is trained to write. `full` is the teacher's text as generated. `no-coords`
 * drops the grid column and row each `look` step gives its object ("look red circle 3 6" →
 * "look red circle"): the teacher's words then say what it looked at but not where, as a real
 * teacher's free-form rationale does, so where it looked reaches a student only through its
 * attention trajectory. On the built-in benchmark the coordinates spell the trajectory out in
 * words; this asks whether the trajectory loss helps once they do not (docs/results.md, "Ablations").
 */
export const TARGET_TEXTS = ["full", "no-coords"] as const;
export type TargetText = (typeof TARGET_TEXTS)[number];

const GRID_NUMBER = /^\d+$/;

export function studentTargetText(text: string, mode: TargetText): string {
  if (mode === "full") return text;
  return text
    .split(";")
    .map((step) => {
      const words = step.trim().split(/\s+/);
      return words[0] === "look" ? words.filter((w) => !GRID_NUMBER.test(w)).join(" ") : words.join(" ");
    })
    .join(" ; ");
}
