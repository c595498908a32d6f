// Tokens straight from a real Better Auth instance, with no HS256 in the loop.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { startBetterAuth, tokenHeader } from "../lib/better-auth.mjs";
import { openEvents } from "../lib/events.mjs";
import { startService } from "../lib/service.mjs";

/** A Better Auth instance and a service trusting it (no BETTER_AUTH_SECRET). */
async function stack(alg) {
  const betterAuth = await startBetterAuth({ alg });
  const service = await startService({ BETTER_AUTH_URL: betterAuth.origin });
  return { betterAuth, service };
}

describe("EdDSA, Better Auth's default", () => {
  let betterAuth, service, ada, bob, adaToken, bobToken;

  before(async () => {
    ({ betterAuth, service } = await stack("EdDSA"));
    ada = await betterAuth.signUp("Ada");
    bob = await betterAuth.signUp("Bob");
    adaToken = await betterAuth.tokenFor(ada);
    bobToken = await betterAuth.tokenFor(bob);
  });
  after(async () => {
    await service?.stop();
    await betterAuth?.close();
  });

  it("hands the frontend an EdDSA token with a kid", () => {
    const header = tokenHeader(adaToken);
    assert.equal(header.alg, "EdDSA");
    assert.ok(header.kid);
  });

  it("identifies the caller from the token's claims", async () => {
    const me = await service.call("GET", "/api/me", adaToken);
    assert.equal(me.status, 200);
    assert.deepEqual(me.body, { id: ada.user.id, email: ada.user.email, name: "Ada" });
  });

  it("supports the whole task lifecycle", async () => {
    const created = await service.call("POST", "/api/tasks", adaToken, { title: "Write the report" });
    assert.equal(created.status, 201);
    assert.equal(created.body.user_id, ada.user.id);
    const id = created.body.id;
    assert.equal(created.headers.get("location"), `/api/tasks/${id}`);

    const updated = await service.call("PUT", `/api/tasks/${id}`, adaToken, { description: "by Friday" });
    assert.equal(updated.body.description, "by Friday");
    const done = await service.call("PATCH", `/api/tasks/${id}/complete`, adaToken);
    assert.equal(done.body.completed, true);
    const list = await service.call("GET", "/api/tasks?status=completed", adaToken);
    assert.deepEqual(list.body.map((t) => t.id), [id]);
    assert.equal(list.headers.get("x-total-count"), "1");
    const deleted = await service.call("DELETE", `/api/tasks/${id}`, adaToken);
    assert.equal(deleted.status, 204);
    assert.equal((await service.call("GET", `/api/tasks/${id}`, adaToken)).status, 404);
  });

  it("keeps two signed-up users apart", async () => {
    const adas = await service.call("POST", "/api/tasks", adaToken, { title: "Ada's secret" });
    const id = adas.body.id;
    for (const [method, route, body] of [
      ["GET", `/api/tasks/${id}`],
      ["PUT", `/api/tasks/${id}`, { title: "Bob was here" }],
      ["PATCH", `/api/tasks/${id}/complete`],
      ["DELETE", `/api/tasks/${id}`],
    ]) {
      const response = await service.call(method, route, bobToken, body);
      assert.equal(response.status, 404, `${method} ${route}`);
    }
    const bobsList = await service.call("GET", "/api/tasks", bobToken);
    assert.deepEqual(bobsList.body, []);
    const still = await service.call("GET", `/api/tasks/${id}`, adaToken);
    assert.deepEqual(still.body, adas.body);
  });

  it("refuses an expired token Better Auth signed", async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await betterAuth.sign({ sub: ada.user.id, iat: now - 3600, exp: now - 600 });
    const response = await service.call("GET", "/api/tasks", expired);
    assert.equal(response.status, 401);
    assert.match(response.headers.get("www-authenticate"), /^Bearer/);
    assert.equal(response.headers.get("content-type"), "application/problem+json");
  });

  it("refuses a token for another audience", async () => {
    const token = await betterAuth.sign({ sub: ada.user.id, aud: "https://another-app.example" });
    assert.equal((await service.call("GET", "/api/tasks", token)).status, 401);
    const right = await betterAuth.sign({ sub: ada.user.id });
    assert.equal((await service.call("GET", "/api/tasks", right)).status, 200);
  });

  it("refuses a token from another Better Auth instance", async () => {
    const other = await startBetterAuth();
    try {
      const mallory = await other.signUp("Mallory");
      const foreign = await other.tokenFor(mallory);
      assert.equal((await service.call("GET", "/api/tasks", foreign)).status, 401);
    } finally {
      await other.close();
    }
  });

  it("accepts a rotated key without a restart", async () => {
    const oldKid = tokenHeader(adaToken).kid;
    await betterAuth.rotateKey();
    const rotated = await betterAuth.tokenFor(ada);
    assert.notEqual(tokenHeader(rotated).kid, oldKid, "Better Auth signs with the new key");
    // The service refetches the key set at most every 5 seconds.
    await sleep(5_500);
    const response = await service.call("GET", "/api/tasks", rotated);
    assert.equal(response.status, 200);
    assert.equal((await service.call("GET", "/api/tasks", adaToken)).status, 200, "old key still trusted");
  });
});

for (const alg of ["RS256", "ES256"]) {
  describe(`${alg}, when Better Auth is so configured`, () => {
    let betterAuth, service;
    before(async () => ({ betterAuth, service } = await stack(alg)));
    after(async () => {
      await service?.stop();
      await betterAuth?.close();
    });

    it("verifies the frontend's token and serves the user's tasks", async () => {
      const session = await betterAuth.signUp("Grace");
      const token = await betterAuth.tokenFor(session);
      assert.equal(tokenHeader(token).alg, alg);
      const created = await service.call("POST", "/api/tasks", token, { title: `${alg} task` });
      assert.equal(created.status, 201);
      const list = await service.call("GET", "/api/tasks", token);
      assert.deepEqual(list.body.map((t) => t.title), [`${alg} task`]);
      const me = await service.call("GET", "/api/me", token);
      assert.equal(me.body.id, session.user.id);
    });
  });
}

describe("live updates across two instances on one database", () => {
  let betterAuth, first, second, ada, bob, adaToken, bobToken;

  before(async () => {
    betterAuth = await startBetterAuth();
    first = await startService({ BETTER_AUTH_URL: betterAuth.origin });
    second = await startService({ BETTER_AUTH_URL: betterAuth.origin }, { databaseUrl: first.databaseUrl });
    ada = await betterAuth.signUp("Ada");
    bob = await betterAuth.signUp("Bob");
    adaToken = await betterAuth.tokenFor(ada);
    bobToken = await betterAuth.tokenFor(bob);
  });
  after(async () => {
    await second?.stop();
    await first?.stop();
    await betterAuth?.close();
  });

  it("a stream on one instance gets each change made through the other within 1 s; another user's gets none", async () => {
    const streams = [];
    try {
      const adas = await openEvents(first.address, adaToken);
      streams.push(adas);
      assert.equal(adas.status, 200);
      assert.match(adas.headers.get("content-type"), /^text\/event-stream/);
      // Bob listens on both instances.
      const bobsFirst = await openEvents(first.address, bobToken);
      const bobsSecond = await openEvents(second.address, bobToken);
      streams.push(bobsFirst, bobsSecond);
      // Without a cursor a stream starts at "now", with an id-only message.
      for (const stream of streams) {
        const hello = await stream.waitFor(() => true, { ms: 5000 });
        assert.equal(hello.data, null);
        assert.ok(hello.id, "it names the cursor");
      }

      /** Makes a change through the second instance; Ada's stream on the first must show it within 1 s. */
      const seen = async (method, route, body, match) => {
        const from = adas.messages.length;
        const response = await second.call(method, route, adaToken, body);
        assert.ok(response.status < 300, `${method} ${route}: ${response.status}`);
        const done = Date.now();
        const message = await adas.waitFor(match(response), { from, ms: 1000 });
        assert.ok(message.at - done <= 1000);
        return { response, message };
      };

      const created = await seen("POST", "/api/tasks", { title: "Seen everywhere" }, (r) => (m) => m.data?.id === r.body.id);
      assert.equal(created.message.event, "upsert");
      assert.deepEqual(created.message.data, created.response.body, "the task as the service returned it");
      const id = created.response.body.id;

      const edited = await seen("PUT", `/api/tasks/${id}`, { description: "edited elsewhere" }, () => (m) => m.data?.version === 2);
      assert.equal(edited.message.event, "upsert");
      assert.deepEqual(edited.message.data, edited.response.body);

      const completed = await seen("PATCH", `/api/tasks/${id}/complete`, { completed: true }, () => (m) => m.data?.version === 3);
      assert.equal(completed.message.event, "upsert");
      assert.equal(completed.message.data.completed, true);

      const deleted = await seen("DELETE", `/api/tasks/${id}`, undefined, () => (m) => m.event === "delete");
      assert.equal(deleted.message.data.id, id);
      assert.match(deleted.message.data.deleted_at, /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);

      const cursors = adas.events().map((m) => m.id);
      assert.equal(cursors.length, 4, "one event per change");
      assert.equal(new Set(cursors).size, 4, "each with a cursor of its own");

      // Bob's own change reaches his streams on both instances, and nothing of Ada's ever did.
      await first.call("POST", "/api/tasks", bobToken, { title: "Bob's own" });
      for (const stream of [bobsFirst, bobsSecond]) {
        await stream.waitFor((m) => m.data?.title === "Bob's own");
        assert.deepEqual(stream.events().map((m) => m.data.title), ["Bob's own"]);
      }
      await sleep(300);
      assert.equal(adas.events().length, 4, "Bob's change is not Ada's");
    } finally {
      for (const stream of streams) await stream.close();
    }
  });

  it("a stream resumes on the other instance after the last id, missing nothing", async () => {
    const adas = await openEvents(first.address, adaToken);
    await adas.waitFor(() => true, { ms: 5000 });
    const kept = await first.call("POST", "/api/tasks", adaToken, { title: "Before the break" });
    await adas.waitFor((m) => m.data?.id === kept.body.id);
    const cursor = adas.cursor();
    await adas.close();

    const missed = await first.call("POST", "/api/tasks", adaToken, { title: "During the break" });
    await first.call("DELETE", `/api/tasks/${kept.body.id}`, adaToken);
    const resumed = await openEvents(second.address, adaToken, { lastEventId: cursor });
    try {
      assert.equal(resumed.status, 200);
      await resumed.waitFor((m) => m.event === "delete", { ms: 2000 });
      assert.deepEqual(
        resumed.events().map((m) => [m.event, m.data.id]),
        [
          ["upsert", missed.body.id],
          ["delete", kept.body.id],
        ],
      );
    } finally {
      await resumed.close();
    }

    const expired = await openEvents(second.address, adaToken, { lastEventId: "never-issued" });
    assert.equal(expired.status, 410);
    assert.equal(expired.problem.status, 410);
  });
});
