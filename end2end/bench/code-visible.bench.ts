import { test } from "@playwright/test";
import { writeFileSync } from "node:fs";

// How long after navigation a person sees a code: from the navigation's start to the code
// image's `load` event, in a fresh browser context each time (nothing cached), median of
// RUNS (fewer than the 20 open codes one address may hold). Prints one JSON line and
// writes it to BENCH_OUT for tests/bench/run.sh.
const RUNS = Number(process.env.BENCH_RUNS ?? 15);

test("code visible after navigation", async ({ browser }) => {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.addInitScript(() => {
      document.addEventListener(
        "load",
        (e) => {
          const img = e.target as HTMLElement;
          if (img.dataset?.testid === "qr-image") {
            (window as unknown as { codeVisible: number }).codeVisible = performance.now();
          }
        },
        true,
      );
    });
    await page.goto("/login");
    const ms = await page.waitForFunction(
      () => (window as unknown as { codeVisible?: number }).codeVisible,
    );
    times.push(Number(await ms.jsonValue()));
    await context.close();
  }
  times.sort((a, b) => a - b);
  const result = {
    runs: RUNS,
    median_ms: times[Math.floor(times.length / 2)],
    min_ms: times[0],
    max_ms: times[times.length - 1],
  };
  console.log(JSON.stringify(result));
  if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, JSON.stringify(result));
});
