// A TypeScript caller, checked by `npm run typecheck` against the types jco
// generated: a change to a WIT signature breaks this file's build.
import { createTeamCollab, sqliteSql, memoryKv, type TeamCollab } from '../src/index.js';

export async function firstMessages(): Promise<string[]> {
  const app: TeamCollab = await createTeamCollab({
    sql: sqliteSql(':memory:'),
    kv: memoryKv(),
    variables: { token_secret: 'a-typescript-secret-of-32-bytes!!' },
  });
  const { user } = await app.userLifecycle.signup('ts@example.com', 'typed password 1', 'Typed');
  const workspace = await app.workspaceManagement.createWorkspace(user.id, 'Types');
  const channel = await app.messaging.createChannel(user.id, workspace.id, 'general');
  await app.messaging.postMessage(user.id, workspace.id, channel.id, 'hello', undefined, []);
  const page = await app.messaging.listMessages(user.id, workspace.id, channel.id, 20, undefined);
  const cursor: string | undefined = page.nextCursor;
  void cursor;
  return page.messages.map((message) => message.text);
}
