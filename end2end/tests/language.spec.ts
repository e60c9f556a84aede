import { expect, test, type Page } from "@playwright/test";
import { chf, date, hydrated, signedInContext, UI_TIMEOUT, type Language } from "./helpers";

/**
 * Languages (issue 10): German, French and English, chosen per person, the browser's language
 * by default, numbers and CHF per locale. The Bern receptionist is the person here: no other
 * spec signs in as her, so her stored choice cannot leak into them; she ends in English again.
 */

const BERN = { email: "reception.bern@demo.test", password: "reception-demo" };

/** The top bar's language menu. */
function languageMenu(page: Page) {
  return page.locator("form.language-menu select");
}

/** Chooses `language` in the menu and waits for the page to come back in it. */
async function choose(page: Page, language: Language): Promise<void> {
  await languageMenu(page).selectOption(language);
  await expect(page.locator("html")).toHaveAttribute("lang", language, { timeout: UI_TIMEOUT });
  await hydrated(page);
}

test("the sign-in page speaks the browser's language, English when it offers none of the three", async ({ browser, baseURL }) => {
  // The last column: the server's refusal of a wrong password, worded by the page (checked in
  // two languages only; every attempt counts against the sign-in limit of this computer).
  const cases: [string, Language, string, string, [string, string] | null][] = [
    ["de-CH", "de", "Anmelden", "Passwort", ["Anmelden", "E-Mail oder Passwort ist falsch."]],
    ["fr-CH", "fr", "Connexion", "Mot de passe", ["Se connecter", "E-mail ou mot de passe incorrect."]],
    ["de-DE", "de", "Anmelden", "Passwort", null],
    ["en-US", "en", "Sign in", "Password", null],
    ["it-CH", "en", "Sign in", "Password", null],
  ];
  for (const [locale, language, heading, password, refusal] of cases) {
    const context = await browser.newContext({ baseURL, locale, storageState: { cookies: [], origins: [] } });
    const page = await context.newPage();
    await page.goto("/login");
    await expect(page.locator("html"), locale).toHaveAttribute("lang", language);
    await expect(page.getByRole("heading", { level: 1 }), locale).toHaveText(heading);
    await expect(page.getByLabel(password), locale).toBeVisible();
    if (refusal !== null) {
      await hydrated(page);
      // An address without an account: the same refusal as a wrong password, and no real
      // account's attempt limit is used up.
      await page.getByLabel(/E-Mail|E-mail/).fill("niemand@demo.test");
      await page.getByLabel(password).fill("not-the-password");
      const [submit, refused] = refusal;
      await page.getByRole("button", { name: submit }).click();
      await expect(page.locator("p.error"), locale).toHaveText(`⚠ ${refused}`, { timeout: UI_TIMEOUT });
    }
    await context.close();
  }
});

test("a receptionist switches to German, then French; her choice follows her to another browser", async ({ browser, baseURL }) => {
  const { context, page } = await signedInContext(browser, baseURL, BERN, "/reception");
  try {
    const nav = page.locator("header.top nav");
    await expect(nav.getByRole("link", { name: "Reception" })).toBeVisible();

    await choose(page, "de");
    await expect(page).toHaveURL(/\/reception$/);
    await expect(nav.getByRole("link", { name: "Empfang" })).toBeVisible();
    await expect(nav.getByRole("link", { name: "Kasse" })).toBeVisible();
    await expect(page.getByRole("button", { name: "Abmelden" })).toBeVisible();
    await expect(page.locator(".signed-in")).toContainText("Reception Bern · Empfang");
    // A page her role may not use: the server's refusal as data, worded in German.
    await page.goto("/audits");
    await hydrated(page);
    await expect(page.locator("p.error").first()).toContainText(/Für Ihre Rolle \(Empfang\) nicht erlaubt: .+\. Fragen Sie die Inhaberin oder den Inhaber\./, { timeout: UI_TIMEOUT });
    await page.goto("/reception");

    await choose(page, "fr");
    await expect(nav.getByRole("link", { name: "Réception" })).toBeVisible();
    await expect(nav.getByRole("link", { name: "Caisse" })).toBeVisible();
    await expect(page.getByRole("button", { name: "Se déconnecter" })).toBeVisible();

    // Another device whose browser asks for English: signing in brings her French back.
    const other = await signedInContext(browser, baseURL, BERN, "/till");
    try {
      await expect(other.page.locator("html")).toHaveAttribute("lang", "fr", { timeout: UI_TIMEOUT });
      await expect(other.page.locator("header.top nav").getByRole("link", { name: "Caisse" })).toBeVisible();
      await expect(other.page).toHaveURL(/\/till$/);
    } finally {
      await other.context.close();
    }
  } finally {
    // Back to English for whoever signs in as her next (a failed run included).
    const reset = await page.request.post("/language", { form: { language: "en", next: "/" }, maxRedirects: 0 });
    expect(reset.status()).toBe(303);
    await context.close();
  }
});

test("amounts, dates and refusals follow the language: CHF 18'080.00 in German, 18'080,00 CHF in French", async ({ browser, baseURL, request }) => {
  const response = await request.get("/api/v1/payouts?state=committed");
  expect(response.status()).toBe(200);
  const payouts = (await response.json()) as { id: string; total: number }[];
  expect(payouts.length).toBeGreaterThan(0);
  const payout = payouts[0];
  // The state machine's refusal is worded in the page's language too (a committed payout is
  // never voided), not in the server's English.
  const refused: Record<Language, string[]> = {
    de: [
      "Abschliessen: Die Auszahlung ist bereits ausgeführt",
      "Stornieren: Die Auszahlung ist bereits ausgeführt; eine ausgeführte Auszahlung wird mit einer neuen Buchung korrigiert, nie storniert",
    ],
    fr: [
      "Terminer : le versement est déjà exécuté",
      "Annuler : le versement est déjà exécuté ; un versement exécuté se corrige par une nouvelle écriture, jamais par une annulation",
    ],
    en: [
      "Finish: the payout is already committed",
      "Cancel: the payout is already committed; a committed payout is corrected by a new entry, never voided",
    ],
  };
  for (const language of ["de", "fr", "en"] as Language[]) {
    // The owner chose no language: the browser's cookie decides.
    const context = await browser.newContext({ baseURL, storageState: ".auth/owner.json" });
    await context.addCookies([{ name: "i18n_pref_locale", value: language, url: baseURL ?? "" }]);
    const page = await context.newPage();
    await page.goto(`/payouts/${payout.id}`);
    await expect(page.locator("html")).toHaveAttribute("lang", language);
    await expect(page.locator("dl.facts dd.total")).toHaveText(chf(payout.total, language), { timeout: UI_TIMEOUT });
    await expect(page.locator("p.refused")).toHaveText(refused[language]);
    await context.close();
  }
});

test("the server's refusals follow the language: a mistyped amount, a working day recorded twice", async ({ browser, baseURL }) => {
  // Anna Huber works every day but Sunday and Tuesday, and the demo records each of her working
  // days until the end of October: 5 October 2026 (a Monday) is recorded already. Neither
  // refusal writes anything.
  const expected: Record<Language, { amount: string; day: string }> = {
    de: {
      amount: "Tagesabzug: «12.345» hat mehr als zwei Nachkommastellen; CHF-Beträge sind ganze Rappen",
      day: `Der ${date("2026-10-05", "de")} ist für diese Person bereits als Arbeitstag erfasst.`,
    },
    fr: {
      amount: "Déduction journalière : « 12.345 » a plus de deux décimales ; les montants en CHF sont en centimes entiers",
      day: `Le ${date("2026-10-05", "fr")} est déjà enregistré comme jour de travail pour cette personne.`,
    },
    en: {
      amount: "Daily deduction: “12.345” has more than two decimals; CHF amounts are in whole Rappen",
      day: `${date("2026-10-05", "en")} is already recorded as a working day for this employee.`,
    },
  };
  for (const language of ["de", "fr", "en"] as Language[]) {
    const context = await browser.newContext({ baseURL, storageState: ".auth/owner.json" });
    await context.addCookies([{ name: "i18n_pref_locale", value: language, url: baseURL ?? "" }]);
    const page = await context.newPage();
    await page.goto("/reception");
    await expect(page.locator("html")).toHaveAttribute("lang", language);
    await hydrated(page);
    const form = page.locator("#days form");
    await expect(form.locator("input[name=idempotency_key]")).not.toHaveValue("", { timeout: UI_TIMEOUT });
    await form.locator("select[name=employee_id]").selectOption({ label: "Anna Huber (Studio Marktgasse, Bern)" });
    await form.locator("input[name=worked_on]").fill("2026-10-05");
    await form.locator("input[name=deduction]").fill("12.345");
    await form.locator("button[type=submit]").click();
    const refusal = page.locator("#days p.error");
    await expect(refusal, language).toHaveAttribute("data-code", "validation_failed", { timeout: UI_TIMEOUT });
    await expect(refusal, language).toContainText(expected[language].amount);

    await form.locator("input[name=deduction]").fill("25.00");
    await form.locator("button[type=submit]").click();
    await expect(refusal, language).toHaveAttribute("data-code", "day_already_recorded", { timeout: UI_TIMEOUT });
    await expect(refusal, language).toContainText(expected[language].day);
    await context.close();
  }
});
