import { centre, type SceneObject } from "./scene.js";
import { CELL_WORDS } from "./vocab.js";

/** "<colour> <shape>": scenes never hold two objects of one colour and shape, so this names one object. */
export function objectName(o: Pick<SceneObject, "colour" | "shape">): string {
  return `${o.colour} ${o.shape}`;
}

/** "<colour> <shape> <column> <row>": an object named and located (see CELL_WORDS). */
export function locatedName(o: SceneObject, imageSize: number): string {
  const { cx, cy } = centre(o);
  const cell = (v: number) => CELL_WORDS[Math.min(CELL_WORDS.length - 1, Math.max(0, Math.floor((v * CELL_WORDS.length) / imageSize)))];
  return `${objectName(o)} ${cell(cx)} ${cell(cy)}`;
}
