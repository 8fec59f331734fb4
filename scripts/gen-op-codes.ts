// Writes native/op_codes.h from src/engine/op-codes.ts (run by `npm run build:native`).
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { opCodesHeader } from "../src/engine/op-codes.js";

const out = fileURLToPath(new URL("../native/op_codes.h", import.meta.url));
writeFileSync(out, opCodesHeader());
console.log(`wrote ${out}`);
