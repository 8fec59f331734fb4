import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    // Tensor-heavy tests saturate both cores; running files in parallel only adds contention.
    fileParallelism: false,
    pool: "forks",
  },
});
