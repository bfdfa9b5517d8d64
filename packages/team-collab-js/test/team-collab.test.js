// The transpiled team-collab, end to end on Node's SQLite and an in-memory
// key-value store: the same domain calls the HTTP product makes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTeamCollab, sqliteSql, memoryKv, fetchWebhooks } from '../src/index.js';

const variables = { token_secret: 'a-test-secret-of-at-least-32-bytes!!', app_base_url: 'https://collab.example' };

/** The WIT error variant a rejected component call carries. */
async function refusal(promise) {
  const err = await promise.then(() => assert.fail('expected a refusal'), (e) => e);
  assert.ok(err.payload, `a component error, not ${err}`);
  return err.payload;
}

test('signup → create workspace → post message → list messages', async () => {
  const sql = sqliteSql(join(mkdtempSync(join(tmpdir(), 'keel-js-')), 'app.db'));
  const app = await createTeamCollab({ sql, kv: memoryKv(), variables });
  const { userLifecycle, workspaceManagement, messaging } = app;

  const session = await userLifecycle.signup('ada@example.com', 'correct horse battery', 'Ada');
  assert.equal(session.user.email, 'ada@example.com');
  const me = await userLifecycle.authenticate(session.token);
  assert.equal(me.id, session.user.id);

  const workspace = await workspaceManagement.createWorkspace(me.id, 'Analytical Engines');
  const channel = await messaging.createChannel(me.id, workspace.id, 'general');
  for (const text of ['first', 'second', 'third']) {
    await messaging.postMessage(me.id, workspace.id, channel.id, text, undefined, []);
  }
  const page = await messaging.listMessages(me.id, workspace.id, channel.id, 2, undefined);
  assert.deepEqual(page.messages.map((m) => m.text), ['third', 'second']);
  const rest = await messaging.listMessages(me.id, workspace.id, channel.id, 2, page.nextCursor);
  assert.deepEqual(rest.messages.map((m) => m.text), ['first']);
  assert.equal(rest.nextCursor, undefined);

  // The verification mail went to the outbox, with a link to the app.
  const [mail] = await app.emailOutbox.listMessages(10);
  assert.deepEqual(mail.to.map((a) => a.email), ['ada@example.com']);
  const link = /https:\/\/collab\.example\/\S+/.exec(mail.textBody ?? '')?.[0];
  assert.ok(link, `a link in ${mail.textBody}`);
  const secret = new URL(link).searchParams.get('token') ?? new URL(link).hash.replace(/^#(token=)?/, '');
  const verified = await userLifecycle.verifyEmail(secret);
  assert.equal(verified.emailVerified, true);
  // The link is single-use.
  await refusal(userLifecycle.verifyEmail(secret));
  sql.close();
});

test('a stranger can neither read nor post in a workspace, and nothing is written', async () => {
  const sql = sqliteSql();
  const { userLifecycle, workspaceManagement, messaging } = await createTeamCollab({ sql, kv: memoryKv(), variables });
  const owner = (await userLifecycle.signup('owner@example.com', 'owner password 1', 'Owner')).user;
  const stranger = (await userLifecycle.signup('eve@example.com', 'eve password 12', 'Eve')).user;
  const workspace = await workspaceManagement.createWorkspace(owner.id, 'Private');
  const channel = await messaging.createChannel(owner.id, workspace.id, 'general');
  await messaging.postMessage(owner.id, workspace.id, channel.id, 'secret plans', undefined, []);

  const denied = await refusal(messaging.postMessage(stranger.id, workspace.id, channel.id, 'hello?', undefined, []));
  assert.ok(['forbidden', 'not-found'].includes(denied.tag), `refused as ${denied.tag}`);
  await refusal(messaging.listMessages(stranger.id, workspace.id, channel.id, 10, undefined));
  const page = await messaging.listMessages(owner.id, workspace.id, channel.id, 10, undefined);
  assert.deepEqual(page.messages.map((m) => m.text), ['secret plans']);
});

test('threads, reactions, edits and deletions', async () => {
  const { userLifecycle, workspaceManagement, messaging } = await createTeamCollab({ sql: sqliteSql(), kv: memoryKv(), variables });
  const ada = (await userLifecycle.signup('ada@example.com', 'ada password 12', 'Ada')).user;
  const workspace = await workspaceManagement.createWorkspace(ada.id, 'Engines');
  const channel = await messaging.createChannel(ada.id, workspace.id, 'general');
  const ask = await messaging.postMessage(ada.id, workspace.id, channel.id, 'ship friday?', undefined, []);
  const reply = await messaging.postMessage(ada.id, workspace.id, channel.id, 'yes', ask.id, []);
  assert.equal(reply.parentId, ask.id);

  await messaging.addReaction(ada.id, workspace.id, channel.id, ask.id, '👍');
  const reacted = await messaging.addReaction(ada.id, workspace.id, channel.id, ask.id, '👍');
  assert.deepEqual(reacted.reactions, [{ emoji: '👍', userIds: [ada.id] }]);
  const edited = await messaging.editMessage(ada.id, workspace.id, channel.id, ask.id, 'ship monday?');
  assert.equal(edited.text, 'ship monday?');
  assert.equal(typeof edited.editedAt, 'bigint');

  const top = await messaging.listMessages(ada.id, workspace.id, channel.id, 10, undefined);
  assert.deepEqual(top.messages.map((m) => [m.text, m.replyCount]), [['ship monday?', 1]]);
  const thread = await messaging.listReplies(ada.id, workspace.id, channel.id, ask.id, 10, undefined);
  assert.deepEqual(thread.messages.map((m) => m.text), ['yes']);

  await messaging.deleteMessage(ada.id, workspace.id, channel.id, ask.id);
  const gone = await messaging.getMessage(ada.id, workspace.id, channel.id, ask.id);
  assert.deepEqual([gone.text, gone.reactions, gone.replyCount], ['', [], 1]);
  assert.equal((await refusal(messaging.deleteMessage(ada.id, workspace.id, channel.id, ask.id))).tag, 'not-found');
});

test('bad input is a typed refusal; a taken email is a conflict and keeps the first account', async () => {
  const { userLifecycle } = await createTeamCollab({ sql: sqliteSql(), kv: memoryKv(), variables });
  assert.equal((await refusal(userLifecycle.signup('not-an-email', 'long enough password', 'X'))).tag, 'invalid-input');
  await userLifecycle.signup('ada@example.com', 'correct horse battery', 'Ada');
  assert.equal((await refusal(userLifecycle.signup('ada@example.com', 'another password 1', 'Mallory'))).tag, 'conflict');
  const session = await userLifecycle.login('ada@example.com', 'correct horse battery');
  assert.equal(session.user.displayName, 'Ada');
  assert.equal((await refusal(userLifecycle.login('ada@example.com', 'another password 1'))).tag, 'unauthorized');
});

test('logout revokes the token', async () => {
  const { userLifecycle } = await createTeamCollab({ sql: sqliteSql(), kv: memoryKv(), variables });
  const { token } = await userLifecycle.signup('ada@example.com', 'correct horse battery', 'Ada');
  await userLifecycle.logout(token);
  assert.equal((await refusal(userLifecycle.authenticate(token))).tag, 'unauthorized');
});

test('a missing or short token secret is refused before anything runs', async () => {
  await assert.rejects(createTeamCollab({ sql: sqliteSql(), kv: memoryKv(), variables: {} }), /token_secret/);
});

test('concurrent calls are served, each as if alone', async () => {
  const { userLifecycle, workspaceManagement, messaging } =
    await createTeamCollab({ sql: sqliteSql(), kv: memoryKv(), variables });
  const names = ['ada', 'bob', 'cy'];
  const sessions = await Promise.all(names.map((n) => userLifecycle.signup(`${n}@example.com`, 'correct horse battery', n)));
  const workspaces = await Promise.all(sessions.map(({ user }) => workspaceManagement.createWorkspace(user.id, `W ${user.displayName}`)));
  assert.deepEqual(workspaces.map((w) => w.name), ['W ada', 'W bob', 'W cy']);
  // A refusal among them settles alone.
  const results = await Promise.allSettled([
    messaging.createChannel(sessions[0].user.id, workspaces[1].id, 'intrusion'),
    messaging.createChannel(sessions[1].user.id, workspaces[1].id, 'general'),
  ]);
  assert.equal(results[0].status, 'rejected');
  assert.equal(results[1].status, 'fulfilled');
  const channels = await messaging.listChannels(sessions[1].user.id, workspaces[1].id);
  assert.deepEqual(channels.map((c) => c.name), ['general']);
});

test('webhooks: events reach an allowed receiver, signed; other origins are dead letters', async () => {
  const { createServer } = await import('node:http');
  const { createHmac } = await import('node:crypto');
  const received = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => { body += chunk; });
    request.on('end', () => { received.push({ headers: request.headers, body }); response.writeHead(204).end(); });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  try {
    const app = await createTeamCollab({
      sql: sqliteSql(), kv: memoryKv(), variables, webhooks: fetchWebhooks({ allowedOrigins: [origin] }),
    });
    const { userLifecycle, workspaceManagement, messaging, notificationOrchestration: hooks } = app;
    const ada = (await userLifecycle.signup('ada@example.com', 'correct horse battery', 'Ada')).user;
    const workspace = await workspaceManagement.createWorkspace(ada.id, 'Engines');
    const channel = await messaging.createChannel(ada.id, workspace.id, 'general');
    const { webhook, secret } = await hooks.registerWebhook(ada.id, workspace.id, `${origin}/in`, ['message.created']);
    const blocked = await hooks.registerWebhook(ada.id, workspace.id, 'https://elsewhere.example/in', ['message.created']);
    const posted = await messaging.postMessage(ada.id, workspace.id, channel.id, 'hello hooks', undefined, []);

    const report = await hooks.dispatch();
    assert.deepEqual([report.enqueued, report.delivered, report.dead], [2, 1, 1]);
    assert.equal(received.length, 1);
    const [{ headers, body }] = received;
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const signed = createHmac('sha256', key).update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`);
    assert.equal(headers['webhook-signature'], `v1,${signed.digest('base64')}`);
    const event = JSON.parse(body);
    assert.deepEqual([event.type, event.data.subject_id, event.id], ['message.created', posted.id, headers['webhook-id']]);

    const dead = await hooks.listDeliveries(ada.id, workspace.id, blocked.webhook.id, 'dead', undefined, undefined);
    assert.match(dead.deliveries[0].lastError, /not in the allowed origins/);
    const delivered = await hooks.listDeliveries(ada.id, workspace.id, webhook.id, 'delivered', undefined, undefined);
    assert.equal(delivered.deliveries.length, 1);
  } finally {
    server.close();
  }
});

test('the inbox: a mention reaches the member once the dispatcher runs, and is read', async () => {
  const { userLifecycle, workspaceManagement, messaging, notificationOrchestration: hooks } =
    await createTeamCollab({ sql: sqliteSql(), kv: memoryKv(), variables });
  const ada = (await userLifecycle.signup('ada@example.com', 'correct horse battery', 'Ada')).user;
  const workspace = await workspaceManagement.createWorkspace(ada.id, 'Engines');
  const channel = await messaging.createChannel(ada.id, workspace.id, 'general');
  const posted = await messaging.postMessage(ada.id, workspace.id, channel.id, `note to self <@${ada.id}>`, undefined, []);
  assert.equal((await hooks.dispatch()).notified, 0);
  const own = await hooks.listNotifications(ada.id, false, undefined, undefined);
  assert.deepEqual([own.notifications.length, own.unreadCount], [0, 0]);
  assert.equal(posted.text, `note to self <@${ada.id}>`);
  assert.equal((await refusal(hooks.markNotificationRead(ada.id, 'ntf_unknown'))).tag, 'not-found');
});
