import type { Command } from "commander";
import { initEngine } from "../engine/index.js";

export function register(program: Command): void {
  program
    .command("info")
    .description("show the tensor engine: backend, kernel tier, native kernels, BLAS and threads")
    .option("--json", "print one JSON object")
    .action(async (opts: { json?: boolean }) => {
      const { info } = await initEngine();
      const report = {
        node: process.version,
        backend: info.backend,
        tier: info.tier,
        native: info.native,
        kernels: info.kernels,
        blas: info.blas,
        threads: info.threads,
        ...(info.reason ? { reason: info.reason } : {}),
      };
      if (opts.json) {
        process.stdout.write(JSON.stringify(report) + "\n");
        return;
      }
      const lines = [
        `node      ${report.node}`,
        `backend   ${report.backend}`,
        `tier      ${report.tier}${info.reason ? ` (${info.reason})` : ""}`,
        `native    ${report.native ? "yes" : "no"}`,
        `blas      ${report.blas ?? "none"}`,
        `threads   ${report.threads}`,
        `kernels   ${report.kernels.length ? report.kernels.join(", ") : "(all JS)"}`,
      ];
      process.stdout.write(lines.join("\n") + "\n");
    });
}
