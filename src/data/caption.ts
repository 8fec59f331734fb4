import type { Sample } from "./manifest.js";
import { objectName } from "./questions.js";
import { centre } from "./scene.js";

/**
 * A scene description in the benchmark's own words: every object, left to right (top to
 * bottom on ties), as "look <colour> <shape>" steps. It is the generic pretraining target of
 * the student base model: learning it teaches a small model to see shapes, colours and
 * left-to-right order without ever seeing a question, so the students that start from it
 * differ only in how they are then taught to answer.
 */
export function captionText(sample: Pick<Sample, "objects">): string {
  const order = sample.objects.map((o, i) => ({ i, ...centre(o) })).sort((a, b) => a.cx - b.cx || a.cy - b.cy || a.i - b.i);
  return order.map(({ i }) => `look ${objectName(sample.objects[i])}`).join(" ; ");
}
