import { expect, test } from "@playwright/test";

test("the login page hydrates and calls a server function", async ({ page }) => {
  const consoleErrors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") consoleErrors.push(msg.text());
  });

  await page.goto("/login");
  // Only an Effect, which never runs on the server, sets this: the page is hydrated.
  await expect(page.locator("[data-hydrated=true]")).toBeVisible();
  await expect(page.getByTestId("server-answer")).toHaveText("");

  await page.getByTestId("server-check").click();
  await expect(page.getByTestId("server-answer")).toHaveText(
    /^scanlogin \S+ is up \(demo mode\)$/,
  );
  expect(consoleErrors).toEqual([]);
});

test("the home page links to the login page", async ({ page }) => {
  await page.goto("/");
  await page.getByRole("link", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/login$/);
});
