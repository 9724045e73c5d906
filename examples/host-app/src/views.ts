/**
 * The host app's pages, as plain HTML strings. Every value that comes from a user or from the
 * chat is escaped. The widget is embedded by the one tag the chat documents:
 * `<script src="CHAT_URL/widget.js" data-mode=… async>`.
 * @module
 */
import type { HostUser, Project } from './directory.ts';
import type { ReceivedEvent } from './webhooks.ts';

/** Escapes text for HTML content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1d2433; background: #f6f7fb; }
  header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .75rem 1.5rem;
    background: #243b6b; color: #fff; }
  header a, header button { color: #fff; }
  header .who { margin-left: auto; display: flex; gap: .75rem; align-items: center; }
  header button { background: none; border: 1px solid #fff8; border-radius: 4px; padding: .2rem .6rem; cursor: pointer; }
  main { max-width: 60rem; margin: 0 auto; padding: 1.5rem; }
  .chat { height: 32rem; border: 1px solid #ccd; border-radius: 8px; background: #fff; }
  form.stack { display: grid; gap: .5rem; max-width: 20rem; }
  .error { color: #a4001d; }
  table { border-collapse: collapse; width: 100%; font-size: .9rem; }
  td, th { border-bottom: 1px solid #dde; padding: .3rem .5rem; text-align: left; vertical-align: top; }
  code { font-size: .85rem; }
`;

/** What every page needs to draw its header. */
export interface PageContext {
  readonly user: HostUser | undefined;
  readonly chatUrl: string;
}

/** A whole page around `body`. */
export function layout(ctx: PageContext, title: string, body: string): string {
  const user = ctx.user;
  const staff = user !== undefined && user.role !== 'user';
  const who = user
    ? `<span class="who"><span data-testid="host-user">${escapeHtml(user.name)}</span>
        <form method="post" action="/signout"><button type="submit">Sign out</button></form></span>`
    : '<span class="who"><a href="/signin">Sign in</a></span>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Acme Projects</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <strong>Acme Projects</strong>
  <nav><a href="/">Home</a> · <a href="/support">Support</a>${
    user ? ' · <a href="/inbox">Inbox</a> · <a href="/projects">Projects</a>' : ''
  }${staff ? ' · <a href="/events">Webhook events</a>' : ''}</nav>
  ${who}
</header>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>
`;
}

/** The widget's script tag (the chat's embed contract). */
export function widgetTag(
  chatUrl: string,
  attributes: { mode: 'support' | 'inbox'; tokenUrl?: string; target?: string; room?: string },
): string {
  const attrs = [
    `src="${escapeHtml(`${chatUrl}/widget.js`)}"`,
    `data-mode="${attributes.mode}"`,
    attributes.tokenUrl ? `data-token-url="${escapeHtml(attributes.tokenUrl)}"` : '',
    attributes.target ? `data-target="${escapeHtml(attributes.target)}"` : '',
    attributes.room ? `data-room="${escapeHtml(attributes.room)}"` : '',
  ].filter(Boolean);
  return `<script ${attrs.join(' ')} async></script>`;
}

/** The home page. */
export function homePage(ctx: PageContext): string {
  const body = ctx.user
    ? `<p>Welcome back, ${escapeHtml(ctx.user.name)}. The chat knows you by this app's sign-in:
        the widget asks <code>/chat-token</code> for a short-lived RS256 token.</p>
       <ul>
         <li><a href="/support">Support</a>: the widget's launcher in the corner (support mode).</li>
         <li><a href="/inbox">Inbox</a>: your rooms and direct messages in the page (inbox mode).</li>
         <li><a href="/projects">Projects</a>: a room per project, made by this app's backend through the chat's server API.</li>
       </ul>`
    : `<p>This is an example host app with its own accounts. <a href="/signin">Sign in</a> to chat as
        yourself, or open <a href="/support">Support</a> to write to us as a guest.</p>`;
  return layout(ctx, 'Acme Projects', body);
}

/** The sign-in form. */
export function signInPage(
  ctx: PageContext,
  options: { error?: string; next?: string; usernames: string[] },
): string {
  const error = options.error ? `<p class="error" role="alert">${escapeHtml(options.error)}</p>` : '';
  const body = `${error}
<form class="stack" method="post" action="/signin">
  <input type="hidden" name="next" value="${escapeHtml(options.next ?? '/')}">
  <label>Username <input name="username" autocomplete="username" required data-testid="signin-username"></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required data-testid="signin-password"></label>
  <button type="submit" data-testid="signin-submit">Sign in</button>
</form>
<p>Demo users: ${options.usernames.map((u) => `<code>${escapeHtml(u)}</code>`).join(', ')} (the password is printed when the app starts).</p>`;
  return layout(ctx, 'Sign in', body);
}

/** Support: the widget's launcher (as a guest when signed out). */
export function supportPage(ctx: PageContext): string {
  const body = `<p>Questions? Use the chat button in the corner. ${
    ctx.user ? 'Our team sees your name.' : 'You are not signed in, so you write as a guest.'
  }</p>
${widgetTag(ctx.chatUrl, { mode: 'support', ...(ctx.user ? { tokenUrl: '/chat-token' } : {}) })}`;
  return layout(ctx, 'Support', body);
}

/** Inbox: every room and direct conversation of the user, in the page. */
export function inboxPage(ctx: PageContext): string {
  const body = `<div id="chat" class="chat" data-testid="host-chat-target"></div>
${widgetTag(ctx.chatUrl, { mode: 'inbox', target: '#chat', tokenUrl: '/chat-token' })}`;
  return layout(ctx, 'Inbox', body);
}

/** The user's projects, each with its chat room (made on demand). */
export function projectsPage(ctx: PageContext, projects: { project: Project; roomId?: string }[]): string {
  const rows = projects
    .map(
      ({
        project,
        roomId,
      }) => `<li><a href="/projects/${encodeURIComponent(project.id)}">${escapeHtml(project.name)}</a>
  ${
    roomId
      ? '(chat open)'
      : `<form method="post" action="/projects/${encodeURIComponent(project.id)}/chat" style="display:inline">
      <button type="submit" data-testid="project-chat-${escapeHtml(project.id)}">Open a project chat</button></form>`
  }</li>`,
    )
    .join('\n');
  return layout(ctx, 'Projects', projects.length ? `<ul>${rows}</ul>` : '<p>You are on no project.</p>');
}

/** One project: its room in the page (inbox mode on one room). */
export function projectPage(
  ctx: PageContext,
  project: Project,
  roomId: string | undefined,
  members: string[],
): string {
  const people = `<p>Members: ${members.map(escapeHtml).join(', ')}</p>`;
  const chat = roomId
    ? `<div id="chat" class="chat" data-room-id="${escapeHtml(roomId)}"></div>
${widgetTag(ctx.chatUrl, { mode: 'inbox', target: '#chat', room: roomId, tokenUrl: '/chat-token' })}`
    : `<form method="post" action="/projects/${encodeURIComponent(project.id)}/chat">
  <button type="submit" data-testid="project-chat-${escapeHtml(project.id)}">Open a project chat</button></form>`;
  return layout(ctx, project.name, `${people}\n${chat}`);
}

/** The last webhook events received from the chat. */
export function eventsPage(ctx: PageContext, events: ReceivedEvent[]): string {
  const rows = events
    .map(
      (
        e,
      ) => `<tr data-testid="webhook-event"><td>${escapeHtml(e.receivedAt)}</td><td>${escapeHtml(e.type)}</td>
  <td>${escapeHtml(String(e.data.roomId ?? ''))}</td><td>${escapeHtml(String(e.data.seq ?? ''))}</td>
  <td><code>${escapeHtml(JSON.stringify(e.data).slice(0, 400))}</code></td></tr>`,
    )
    .join('\n');
  const body = events.length
    ? `<table><thead><tr><th>received</th><th>type</th><th>room</th><th>seq</th><th>data</th></tr></thead>
<tbody>${rows}</tbody></table>`
    : '<p>No event yet. Write in a chat room and reload.</p>';
  return layout(ctx, 'Webhook events', body);
}

/** An error page. */
export function errorPage(ctx: PageContext, title: string, message: string): string {
  return layout(ctx, title, `<p class="error" role="alert">${escapeHtml(message)}</p>`);
}
