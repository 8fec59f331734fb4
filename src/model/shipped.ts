import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// Resolved from this file so they hold from src/ (tsx) and from dist/ alike.
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The teacher that ships with lavit (the built-in benchmark's). */
export const SHIPPED_TEACHER = resolve(root, "models/teacher-shapes");
/** The student base that ships with lavit: students start from it unless told otherwise. */
export const SHIPPED_STUDENT_BASE = resolve(root, "models/student-base");
