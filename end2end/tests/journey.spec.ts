import { test, expect } from "@playwright/test";
import { png, signUp } from "./helpers";
import * as path from "path";
import * as fs from "fs";

test("a visitor is sent to sign in, and the pages need a session", async ({ page, request }) => {
  for (const p of ["/", "/history", "/account"]) {
    const r = await request.get(p, { maxRedirects: 0 });
    expect(r.status(), `${p} answers a real redirect`).toBe(302);
    expect(r.headers()["location"]).toBe(`/login?next=${p}`);
  }
  for (const p of ["/", "/history", "/account"]) {
    await page.goto(p);
    await expect(page).toHaveURL(new RegExp(`/login\\?next=${p.replace("/", "\\/")}$`));
  }
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
});

test("sign up, try something on, see the result, history and credits", async ({ page }, info) => {
  const email = `shopper${Date.now()}@example.com`;
  await signUp(page, email);

  const tryOn = page.getByRole("button", { name: "Try it on" });
  await expect(tryOn).toBeEnabled(); // only the running wasm enables it
  await expect(page.getByText("Costs 1 credit. You have 3.")).toBeVisible();
  const dir = info.outputPath("inputs");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "me.png"), png(200, 170, 150));
  fs.writeFileSync(path.join(dir, "shirt.png"), png(20, 40, 200));
  await page.getByLabel("Your photo").setInputFiles(path.join(dir, "me.png"));
  await page.getByLabel("Garment photo").setInputFiles(path.join(dir, "shirt.png"));
  await expect(page.getByAltText("Preview of your photo")).toBeVisible();
  await tryOn.click();

  const result = page.getByTestId("result");
  await expect(result).toBeVisible({ timeout: 20_000 });
  await expect(page.getByRole("status")).toHaveText("Done");
  await expect(page.getByTestId("header-balance")).toHaveText("2 credits");
  await page.screenshot({ path: info.outputPath("try-on.png"), fullPage: true });

  await page.goto("/history");
  await expect(page.getByTestId("generation")).toHaveCount(1);
  await expect(page.getByText("Done")).toBeVisible();
  await expect(page.getByRole("img", { name: /Try-on result from/ })).toBeVisible();

  await page.goto("/account");
  await expect(page.getByRole("heading", { name: "Credits", exact: true })).toBeVisible();
  await expect(page.getByTestId("available")).toHaveText("2");
  await expect(page.getByText(/Expires \d{4}-\d{2}-\d{2} \(in 6 days\)/)).toBeVisible();
  await expect(page.getByText("Spent on a generation")).toBeVisible();
  await expect(page.getByText("Buying credits is not set up on this Fitroom yet.")).toBeVisible();
  await expect(page.getByRole("button", { name: "Not available" })).toHaveCount(3);
  await page.screenshot({ path: info.outputPath("account.png"), fullPage: true });

  // Deleting from history removes it, and it stays gone.
  await page.goto("/history");
  await page.getByRole("button", { name: "Delete" }).click();
  await expect(page.getByTestId("generation")).toBeHidden();
  await page.reload();
  await expect(page.getByText("Nothing yet.")).toBeVisible();
});

test("wrong credentials are explained on the sign-in form", async ({ page }) => {
  await page.goto("/login");
  await page.getByLabel("Email").fill("nobody@example.com");
  await page.getByLabel("Password").fill("whatever123");
  await page.getByRole("button", { name: "Sign in" }).click();
  // The same plain words as the REST answer (`invalid_credentials`).
  await expect(page.getByRole("alert")).toContainText("Wrong email or password.");
});

test("a sign-in link cannot send a shopper to another site", async ({ page, baseURL }) => {
  const email = `redirected${Date.now()}@example.com`;
  await page.goto(`/signup?next=${encodeURIComponent("/\t/evil.example")}`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(`${baseURL}/`);

  await page.context().clearCookies();
  for (const next of ["//evil.example", "/%2F/evil.example", "/\\evil.example", "https://evil.example/"]) {
    await page.goto(`/login?next=${encodeURIComponent(next)}`);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(`${baseURL}/`);
    await page.context().clearCookies();
  }
  await page.goto(`/login?next=${encodeURIComponent("/history")}`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${baseURL}/history`);
});
