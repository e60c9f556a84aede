import { randomUUID } from "node:crypto";
import { expect, type APIRequestContext, type Browser, type BrowserContext, type Locator, type Page } from "@playwright/test";

/** How long to wait for anything the server or the WASM UI has to do. */
export const UI_TIMEOUT = 15_000;

/** Payouts of the demo's second month start on or after this day (September is paid at seed). */
export const OCTOBER = "2026-10-01";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `GET /api/v1/employees` item. */
export interface EmployeeSummary {
  id: string;
  name: string;
  studio_id: string;
  studio_name: string;
  unpaid_record_count: number;
  /** Rappen. */
  unpaid_total: number;
  currency: string;
  oldest_unpaid_on: string | null;
  newest_unpaid_on: string | null;
}

/** `GET /api/v1/payouts` item (the fields the tests read). */
export interface Payout {
  id: string;
  employee_id: string;
  employee_name: string;
  state: "pending" | "failed" | "committed" | "cancelled";
  phase: string;
  record_count: number;
  /** Rappen. */
  total: number;
  currency: string;
  period_start: string;
  period_end: string;
  failed_phase: string | null;
  error: string | null;
}

/** A fault for `POST /api/v1/test/faults`. */
export interface Fault {
  phase: "lines_claimed" | "totals_verified" | "committed";
  kind: "error" | "crash";
  times?: number;
}

/**
 * Waits until the page is server-rendered *and* hydrated, so clicks reach the WASM handlers
 * instead of falling back to plain HTML form posts and links.
 *
 * Leptos sets no global "hydrated" flag. Two signals instead:
 * 1. network idle: the JS/WASM bundle and the first server-function calls are done;
 * 2. every `input[name=idempotency_key]` holds a UUID. The key is a `prop:value`, which server
 *    rendering leaves empty; the browser mints it (`crypto.getRandomValues()`) once the form hydrates.
 * Pages without such inputs (e.g. /owner before a preview) rely on network idle alone.
 */
export async function hydrated(page: Page, timeout = UI_TIMEOUT): Promise<void> {
  await page.waitForLoadState("networkidle", { timeout });
  await page.waitForFunction(
    (pattern: string) => {
      const uuid = new RegExp(pattern, "i");
      const inputs = Array.from(document.querySelectorAll<HTMLInputElement>("input[name=idempotency_key]"));
      // Server rendering leaves `prop:value` empty, so a UUID here was minted by the hydrated page.
      return inputs.every((input) => uuid.test(input.value));
    },
    UUID.source,
    { timeout },
  );
}

/** Goes to `path` and waits for hydration. */
export async function open(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await hydrated(page);
}

// ---------------------------------------------------------------------------------------------
// JSON API

async function getJson<T>(request: APIRequestContext, url: string): Promise<T> {
  const response = await request.get(url);
  expect(response.status(), `GET ${url}: ${await response.text()}`).toBe(200);
  return (await response.json()) as T;
}

/** Every employee with their unpaid records. */
export async function employees(request: APIRequestContext): Promise<EmployeeSummary[]> {
  return getJson<EmployeeSummary[]>(request, "/api/v1/employees");
}

/** One employee by name (fails the test if absent). */
export async function employee(request: APIRequestContext, name: string): Promise<EmployeeSummary> {
  const all = await employees(request);
  const found = all.find((e) => e.name === name);
  expect(found, `employee "${name}" in ${all.map((e) => e.name).join(", ")}`).toBeDefined();
  return found as EmployeeSummary;
}

/** An employee's payouts, optionally in one state. */
export async function payoutsOf(
  request: APIRequestContext,
  employeeId: string,
  state?: Payout["state"],
): Promise<Payout[]> {
  const query = new URLSearchParams({ employee_id: employeeId });
  if (state) query.set("state", state);
  return getJson<Payout[]>(request, `/api/v1/payouts?${query}`);
}

/** An employee's payouts of October (the demo's second month), i.e. not the seeded September one. */
export async function octoberPayoutsOf(request: APIRequestContext, employeeId: string): Promise<Payout[]> {
  return (await payoutsOf(request, employeeId)).filter((p) => p.period_start >= OCTOBER);
}

/** Today in Zürich, YYYY-MM-DD. */
export function today(): string {
  return new Date().toLocaleDateString("sv-SE", { timeZone: "Europe/Zurich" });
}

/**
 * Commits a bank payout of the employee's whole unpaid period through the JSON API (the owner's
 * session), registering a card service for them first when nothing is owed. Returns its total.
 * Used with Mia Fischer (Zürich; no other spec pays her) and Lara Meier.
 */
export async function commitBankPayout(request: APIRequestContext, name: string): Promise<number> {
  let person = await employee(request, name);
  if (person.unpaid_record_count === 0) {
    const records = await request.get(`/api/v1/service-records?employee_id=${person.id}&limit=1`);
    expect(records.status()).toBe(200);
    const [last] = (await records.json()) as { service_id: string }[];
    const registered = await request.post("/api/v1/service-records", {
      headers: { "Idempotency-Key": randomUUID() },
      data: { employee_id: person.id, service_id: last.service_id, price: 8_000, tip: 0, payment_method: "card", performed_on: today() },
    });
    expect(registered.status(), await registered.text()).toBe(201);
    person = await employee(request, name);
  }
  const committed = await request.post("/api/v1/payouts", {
    headers: { "Idempotency-Key": randomUUID() },
    data: {
      employee_id: person.id,
      period_start: person.oldest_unpaid_on,
      period_end: person.newest_unpaid_on,
      method: "bank",
    },
  });
  expect(committed.status(), await committed.text()).toBe(201);
  return ((await committed.json()) as { total: number }).total;
}

/** Arms a fault in the server's payout engine. */
export async function armFault(request: APIRequestContext, fault: Fault): Promise<void> {
  const response = await request.post("/api/v1/test/faults", { data: { times: 1, ...fault } });
  expect(response.status(), `arming ${JSON.stringify(fault)}: ${await response.text()}`).toBe(200);
}

/** Disarms every fault. */
export async function clearFaults(request: APIRequestContext): Promise<void> {
  const response = await request.delete("/api/v1/test/faults");
  expect(response.status(), `clearing faults: ${await response.text()}`).toBe(204);
}

// ---------------------------------------------------------------------------------------------
// Pages

/**
 * On /owner: follows the employee's "Prepare payout" link (their whole unpaid period) and waits
 * for the preview with its Commit button. Returns the summary paragraph.
 */
export async function preparePayout(page: Page, name: string): Promise<Locator> {
  await open(page, "/owner");
  const row = page.locator(`table.employees tr[data-employee="${name}"]`);
  await expect(row).toBeVisible({ timeout: UI_TIMEOUT });
  await row.getByRole("link", { name: "Prepare payout" }).click();
  await page.waitForURL(/\/owner\?employee=[^&]+&start=\d{4}-\d{2}-\d{2}&end=\d{4}-\d{2}-\d{2}/, {
    timeout: UI_TIMEOUT,
  });
  const summary = page.locator("#prepare p.summary");
  await expect(summary).toContainText(name, { timeout: UI_TIMEOUT });
  await expect(commitButton(page)).toBeEnabled({ timeout: UI_TIMEOUT });
  await hydrated(page);
  return summary;
}

/** The preview's Commit payout button. */
export function commitButton(page: Page): Locator {
  return page.locator("#prepare button.commit");
}

/** The red banner of payouts needing attention. */
export function attentionBanner(page: Page): Locator {
  return page.locator("section.attention-banner");
}

/** Success notices (`p.notice.success`), e.g. of a register, a commit or a Finish. */
export function successNotice(page: Page): Locator {
  return page.locator("p.notice.success");
}

/** The demo employee with a login: Lara Meier. */
export const LARA_LOGIN = { email: "lara@demo.test", password: "employee-demo" };

/**
 * Signs in through the form in a browser context of its own (another person at another device)
 * and lands on `next`. Close the returned context when done.
 */
export async function signedInContext(
  browser: Browser,
  baseURL: string | undefined,
  login: { email: string; password: string },
  next: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    baseURL,
    storageState: { cookies: [], origins: [] },
    extraHTTPHeaders: { Origin: baseURL ?? "" },
  });
  const page = await context.newPage();
  await page.goto(`/login?next=${next}`);
  await hydrated(page);
  await page.getByLabel("Email").fill(login.email);
  await page.getByLabel("Password").fill(login.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator(".signed-in")).toBeVisible({ timeout: UI_TIMEOUT });
  return { context, page };
}

/** A UI language: the `lang` of the page and the value of the language menu. */
export type Language = "en" | "de" | "fr";

/**
 * Rappen as the app prints them in `language` (CLDR's Swiss formats through ICU4X):
 * `CHF 18'080.00` in English and German, `18'080,00 CHF` in French, a minus before a negative
 * amount (`-CHF 5.00`). The space next to `CHF` is a no-break space; Playwright's text matchers
 * treat it as a space, `textContent()` does not.
 */
export function chf(rappen: number, language: Language = "en"): string {
  const sign = rappen < 0 ? "-" : "";
  const abs = Math.abs(rappen);
  const francs = Math.floor(abs / 100)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, "'");
  const cents = String(abs % 100).padStart(2, "0");
  return language === "fr"
    ? `${sign}${francs},${cents}\u00a0CHF`
    : `${sign}CHF\u00a0${francs}.${cents}`;
}

/**
 * A date (`YYYY-MM-DD`) as the app prints it in `language`: `23 Nov 2026`, `23.11.2026`,
 * `23 nov. 2026` (CLDR's medium Swiss date; Node's Intl has the same CLDR patterns as the app's
 * ICU4X for these three).
 */
export function date(iso: string, language: Language = "en"): string {
  return new Intl.DateTimeFormat(`${language}-CH`, { dateStyle: "medium", timeZone: "UTC" }).format(
    new Date(`${iso}T00:00:00Z`),
  );
}

/** A count as the app prints it (CLDR's Swiss grouping, the same in the three languages): `12'480`. */
export function count(n: number): string {
  return n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, "'");
}
