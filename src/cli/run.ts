import { main } from "./main.js";

// Entry point for running the CLI from source (tests, `npx tsx src/cli/run.ts`).
main(process.argv).then((code) => {
  process.exitCode = code;
});
