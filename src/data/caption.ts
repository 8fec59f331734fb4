import { sceneObjects, type Sample } from "./manifest.js";
import { locatedName } from "./names.js";
import { centre } from "./scene.js";

/**
 * A scene description in the benchmark's own words: every object, left to right (top to
 * bottom on ties), as "look <colour> <shape> <column> <row>" steps, the same words a
 * rationale step uses. It is the generic pretraining target of the student base model:
 * learning it teaches a small model to see shapes, colours and where they are without ever
 * seeing a question, so the students that start from it differ only in how they are then
 * taught to answer.
 */
export function captionText(sample: Sample, imageSize: number): string {
  const objects = sceneObjects(sample, "the student base's scene descriptions");
  const order = objects.map((o, i) => ({ i, ...centre(o) })).sort((a, b) => a.cx - b.cx || a.cy - b.cy || a.i - b.i);
  return order.map(({ i }) => `look ${locatedName(objects[i], imageSize)}`).join(" ; ");
}
