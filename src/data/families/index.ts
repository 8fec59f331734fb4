import { attribute } from "./attribute.js";
import { counting } from "./counting.js";
import { depth } from "./depth.js";
import { FAMILIES, type Family, type FamilyName, type Template } from "./family.js";
import { multihop } from "./multihop.js";
import { spatial } from "./spatial.js";

/** Every question family by name: adding a family is a new file and a line here (and a name in FAMILIES). */
const REGISTRY: Record<FamilyName, Family> = { attribute, spatial, depth, counting, multihop };

const TEMPLATES: readonly Template[] = FAMILIES.flatMap((name) => REGISTRY[name].templates);

export function familyOf(t: Template): Family {
  return REGISTRY[t.family];
}

/** All templates, family by family in FAMILIES order. */
export function allTemplates(): readonly Template[] {
  return TEMPLATES;
}

export function templateByKey(key: string): Template | undefined {
  return TEMPLATES.find((t) => t.key === key);
}
