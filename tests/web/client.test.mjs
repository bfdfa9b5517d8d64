// team-collab's web client end to end: `keel up` on the repository's
// spin.toml (the product, its web client on the fileserver component, the
// development outbox), driven in headless Chromium by two people at once.
//
// Environment: KEEL_BIN (the keel binary), CHROMIUM (default
// /usr/bin/chromium), KEEL_WEB_ARTIFACTS (where screenshots go).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";

const repo = join(dirname(fileURLToPath(import.meta.url)), "../..");
const artifacts = process.env.KEEL_WEB_ARTIFACTS ?? join(repo, "target/web-artifacts");
const LIVE = 10_000; // how long a live update may take to show
const MAIL = 25_000; // the dispatcher runs every 2 s; the badge polls every 10 s

let server;
let stateDir;
let base;
let browser;
const people = {};
const pageErrors = [];

async function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
    probe.on("error", reject);
  });
}

async function waitForHealth(deadline) {
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`keel exited with ${server.exitCode}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error("keel did not answer /healthz within 90 s");
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  stateDir = mkdtempSync(join(tmpdir(), "keel-web-"));
  server = spawn(process.env.KEEL_BIN ?? join(repo, "target/release/keel"),
    ["up", "-f", "spin.toml", "--listen", `127.0.0.1:${port}`, "--state-dir", stateDir], {
      cwd: repo,
      stdio: ["ignore", "inherit", "inherit"],
      env: {
        ...process.env,
        SPIN_VARIABLE_TOKEN_SECRET: randomBytes(32).toString("hex"),
        SPIN_VARIABLE_APP_BASE_URL: base,
        SPIN_VARIABLE_NOTIFICATION_DIGEST_SECONDS: "0",
        RUST_LOG: "warn",
      },
    });
  await waitForHealth(Date.now() + 90_000);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", chromiumSandbox: false });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

async function person(name) {
  const context = await browser.newContext({ baseURL: base, acceptDownloads: true, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(`${name}: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !/status of 4\d\d/.test(message.text())) pageErrors.push(`${name}: ${message.text()}`);
  });
  const email = `${name.toLowerCase()}@example.com`;
  people[name] = { page, email, password: `${name}-correct-horse-battery` };
  return people[name];
}

async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`) });
}

// The newest link to `path` in the mail the outbox kept for `email`.
async function mailedLink(email, path) {
  const deadline = Date.now() + MAIL;
  while (Date.now() < deadline) {
    const { messages } = await (await fetch(`${base}/dev/outbox?to=${encodeURIComponent(email)}`)).json();
    for (const message of messages) {
      const link = message.text_body?.match(new RegExp(`${base}${path}\\S+`));
      if (link) return link[0];
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`no mail to ${email} links to ${path}`);
}

async function signUp({ page, email, password }, name) {
  await page.goto("/");
  await page.getByRole("link", { name: "Create an account" }).click();
  const form = page.locator("#signup-form");
  await form.getByLabel("Name").fill(name);
  await form.getByLabel("Email").fill(email);
  await form.getByLabel("Password").fill(password);
  await form.getByRole("button", { name: "Sign up" }).click();
  await page.locator("#me-name", { hasText: name }).waitFor();
}

async function verify({ page, email }) {
  await page.goto(await mailedLink(email, "/verify-email"));
  await page.locator("#toast", { hasText: "verified" }).waitFor();
  await page.locator("#verify-banner").waitFor({ state: "hidden" });
}

const message = (page, text) => page.locator("#messages .message", { hasText: text });

test("the web client's files: pages, assets, caching and refusals", async () => {
  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type"), /^text\/html/);
  assert.match(page.headers.get("content-security-policy"), /default-src 'self'/);
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  const etag = page.headers.get("etag");
  assert.ok(etag, "pages carry an etag");
  assert.match(await page.text(), /<title>Keel team-collab<\/title>/);

  assert.equal((await fetch(`${base}/`, { headers: { "if-none-match": etag } })).status, 304);
  const route = await fetch(`${base}/workspaces/wsp_1/channels/chn_2/messages/msg_3`, { headers: { accept: "text/html" } });
  assert.equal(route.status, 200, "page paths (links in mail) load the client");
  assert.match(await route.text(), /<script type="module" src="\/app.js">/);
  const notPage = await fetch(`${base}/dev/nothing`, { headers: { accept: "application/json" } });
  assert.equal(notPage.status, 404, "a client that does not ask for a page gets the 404");
  const script = await fetch(`${base}/app.js`);
  assert.match(script.headers.get("content-type"), /^text\/javascript/);
  assert.equal(script.headers.get("content-security-policy"), null, "the policy is for pages");

  for (const path of ["/missing.js", "/%2e%2e/spin.toml", "/..%2fspin.toml", "/%2e%2e%2fCargo.toml"]) {
    const missing = await fetch(`${base}${path}`);
    assert.equal(missing.status, 404, path);
    assert.equal((await missing.json()).error.code, "not_found", path);
  }
  const post = await fetch(`${base}/index.html`, { method: "POST", body: "x" });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  const head = await fetch(`${base}/style.css`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), "");
  const api = await fetch(`${base}/v1/nowhere`);
  assert.equal(api.status, 404, "the API keeps its own 404s");
  assert.equal((await api.json()).error.code, "not_found");
});

test("a new user signs up, verifies the address from the mail, and starts a workspace", async () => {
  const alice = await person("Alice");
  await alice.page.goto("/");
  await shot(alice.page, "01-sign-in");
  await signUp(alice, "Alice");
  assert.ok(await alice.page.locator("#verify-banner").isVisible(), "an unverified address is pointed out");
  await verify(alice);

  await alice.page.getByLabel("New workspace name").fill("acme");
  await alice.page.getByLabel("New workspace name").press("Enter");
  await alice.page.locator("#workspace-select option", { hasText: "acme" }).waitFor({ state: "attached" });
  await alice.page.getByLabel("New channel name").fill("general");
  await alice.page.getByLabel("New channel name").press("Enter");
  await alice.page.locator("#channel-title", { hasText: "# general" }).waitFor();
  assert.match(alice.page.url(), /\/workspaces\/wsp_[^/]+\/channels\/chn_/);
});

test("an invited person joins from the invitations list", async () => {
  const { page } = people.Alice;
  const bob = await person("Bob");
  await signUp(bob, "Bob");
  await verify(bob);

  await page.getByRole("button", { name: "Members" }).click();
  await page.getByLabel("Email to invite").fill(bob.email);
  await page.getByRole("button", { name: "Invite", exact: true }).click();
  await page.locator("#toast", { hasText: `Invitation sent to ${bob.email}` }).waitFor();
  await shot(page, "02-members");

  await bob.page.getByRole("button", { name: /Invitations/ }).click();
  await bob.page.locator("#panel-body", { hasText: "acme" }).waitFor();
  await bob.page.getByRole("button", { name: "Accept" }).click();
  await bob.page.locator("#channel-title", { hasText: "# general" }).waitFor();
});

test("two people see each other's messages, replies, edits and reactions live", async () => {
  const alice = people.Alice.page;
  const bob = people.Bob.page;
  await bob.locator("#live-status.on").waitFor({ timeout: LIVE });
  await alice.locator("#live-status.on").waitFor({ timeout: LIVE });

  await alice.getByLabel("Message", { exact: true }).fill("Hello Bob, welcome to acme!");
  await alice.getByLabel("Message", { exact: true }).press("Enter");
  await message(bob, "Hello Bob, welcome to acme!").waitFor({ timeout: LIVE });

  await bob.getByLabel("Message", { exact: true }).fill("Thanks Alice!");
  await bob.getByLabel("Message", { exact: true }).press("Enter");
  await message(alice, "Thanks Alice!").waitFor({ timeout: LIVE });

  // A thread: Bob replies, Alice sees the count and the reply.
  await message(bob, "Hello Bob").getByRole("button", { name: "Reply" }).click();
  const thread = bob.locator("#panel-body");
  await thread.locator("textarea").fill("Glad to be here");
  await thread.locator("button[type=submit]").click();
  await thread.locator(".message", { hasText: "Glad to be here" }).waitFor();
  await shot(bob, "03-thread");
  await message(alice, "Hello Bob").getByRole("button", { name: "1 reply" }).waitFor({ timeout: LIVE });
  await message(alice, "Hello Bob").getByRole("button", { name: "1 reply" }).click();
  await alice.locator("#panel-body .message", { hasText: "Glad to be here" }).waitFor();

  // A reaction and an edit travel too.
  await message(bob, "Hello Bob").getByLabel("Add reaction").click();
  await message(bob, "Hello Bob").getByRole("button", { name: "React 👍" }).click();
  await message(alice, "Hello Bob").getByRole("button", { name: "👍 1" }).first().waitFor({ timeout: LIVE });
  await message(bob, "Thanks Alice!").getByRole("button", { name: "Edit" }).click();
  await bob.getByLabel("Edited message").fill("Thanks Alice, glad to join!");
  await bob.getByRole("button", { name: "Save" }).click();
  await message(alice, "Thanks Alice, glad to join!").locator(".edited").waitFor({ timeout: LIVE });
  await shot(alice, "04-channel");
});

test("a shared file reaches the other person, who downloads the same bytes", async () => {
  const alice = people.Alice.page;
  const bob = people.Bob.page;
  const notes = "Meeting notes\n- ship the web client\n";
  await alice.locator("#composer input[type=file]").setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from(notes) });
  await alice.getByLabel("Message", { exact: true }).fill("Notes from today");
  await alice.getByLabel("Message", { exact: true }).press("Enter");
  const link = message(bob, "Notes from today").getByRole("link", { name: /notes\.txt/ });
  await link.waitFor({ timeout: LIVE });
  const [download] = await Promise.all([bob.waitForEvent("download"), link.click()]);
  assert.equal(download.suggestedFilename(), "notes.txt");
  assert.equal(readFileSync(await download.path(), "utf8"), notes);

  await bob.getByRole("button", { name: "Files" }).click();
  await bob.locator("#panel-body .files", { hasText: "notes.txt" }).waitFor();
  await shot(bob, "05-files");
});

test("a mention reaches the inbox, which opens the message", async () => {
  const alice = people.Alice.page;
  const bob = people.Bob.page;
  await bob.getByLabel("Message", { exact: true }).fill("@Alice can you review the notes?");
  await bob.getByLabel("Message", { exact: true }).press("Enter");
  await message(alice, "can you review the notes?").waitFor({ timeout: LIVE });
  await message(alice, "can you review the notes?").locator(".mention", { hasText: "@Alice" }).waitFor();

  // Bob's reply in the thread and this mention: two unread notifications.
  await alice.locator("#unread", { hasText: "2" }).waitFor({ timeout: MAIL });
  await alice.getByRole("button", { name: /Inbox/ }).click();
  await alice.locator("#panel-body .notifications a", { hasText: "Bob replied to you" }).waitFor();
  const entry = alice.locator("#panel-body .notifications a", { hasText: "Bob mentioned you" });
  await entry.waitFor();
  await shot(alice, "06-inbox");
  await entry.click();
  await alice.waitForURL(/\/messages\/msg_/);
  await alice.locator("#messages .message.focused", { hasText: "can you review the notes?" }).waitFor();
  await alice.locator("#unread", { hasText: "1" }).waitFor();
});

test("a forgotten password is reset from the mailed link; a wrong one is refused", async () => {
  const bob = people.Bob;
  await bob.page.getByRole("button", { name: "Sign out" }).click();
  await bob.page.locator("#signin-form").waitFor();
  await bob.page.getByRole("link", { name: "Forgot your password?" }).click();
  await bob.page.locator("#forgot-form").getByLabel("Email").fill(bob.email);
  await bob.page.getByRole("button", { name: "Mail me a link" }).click();
  await bob.page.locator("#toast", { hasText: "reset link is on its way" }).waitFor();

  await bob.page.goto(await mailedLink(bob.email, "/reset-password"));
  await bob.page.locator("#reset-form").getByLabel("New password").fill("a-brand-new-password");
  await bob.page.getByRole("button", { name: "Set password" }).click();
  await bob.page.locator("#toast", { hasText: "Your password is changed" }).waitFor();

  const form = bob.page.locator("#signin-form");
  await form.getByLabel("Email").fill(bob.email);
  await form.getByLabel("Password").fill(bob.password);
  await form.getByRole("button", { name: "Sign in" }).click();
  await bob.page.locator("#toast.error").waitFor();
  assert.ok(await form.isVisible(), "the old password does not sign in");
  await form.getByLabel("Password").fill("a-brand-new-password");
  await form.getByRole("button", { name: "Sign in" }).click();
  await bob.page.locator("#me-name", { hasText: "Bob" }).waitFor();
  await bob.page.locator("#channel-title", { hasText: "# general" }).waitFor();
});

test("no page error and no policy violation in either browser", () => {
  assert.deepEqual(pageErrors, []);
});
