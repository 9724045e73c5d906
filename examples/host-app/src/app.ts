/**
 * The example host app: an Express app with its own sign-in (a cookie session), the issuer side of
 * the chat's host tokens (`/.well-known/openid-configuration`, `/.well-known/jwks.json`,
 * `/chat-token`), pages that embed the chat widget in both modes, a backend route that makes a
 * project's room through the chat's server API, and the webhook receiver.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import { ChatApi, ChatApiError } from './chat-api.ts';
import type { HostAppConfig } from './config.ts';
import { DEMO_USERS, Directory, type HostUser, type Project } from './directory.ts';
import { TokenIssuer } from './tokens.ts';
import * as views from './views.ts';
import { WebhookReceiver } from './webhooks.ts';

declare module 'express-session' {
  interface SessionData {
    /** The signed-in user's id. */
    userId?: string;
  }
}

/** The session cookie's name. */
export const SESSION_COOKIE = 'acme.sid';

/** A host app, ready to be served. */
export interface HostApp {
  /** The Express app (a request listener). */
  readonly app: express.Express;
  readonly config: HostAppConfig;
  readonly tokens: TokenIssuer;
  readonly directory: Directory;
  /** The webhook receiver, undefined without `CHAT_WEBHOOK_SECRET`. */
  readonly webhooks: WebhookReceiver | undefined;
  /** The chat room of each project that has one. */
  readonly projectRooms: ReadonlyMap<string, string>;
}

/** Options of `createHostApp`. */
export interface HostAppOptions {
  /** Where log lines go (default: the console). */
  readonly log?: (line: string) => void;
}

/** Makes the host app for `config`. */
export async function createHostApp(config: HostAppConfig, options: HostAppOptions = {}): Promise<HostApp> {
  const log = options.log ?? ((line: string) => console.log(line));
  const tokens = await TokenIssuer.create({
    issuer: config.publicUrl,
    ttlSeconds: config.tokenTtlSeconds,
    ...(config.audience ? { audience: config.audience } : {}),
  });
  const directory = new Directory(DEMO_USERS, config.demoPassword);
  const chatApi = config.chatApiKey ? new ChatApi(config.chatUrl, config.chatApiKey) : undefined;
  const webhooks = config.webhookSecret ? new WebhookReceiver(config.webhookSecret) : undefined;
  const projectRooms = new Map<string, string>();
  const opening = new Map<string, Promise<string>>();

  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    res.set({
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'same-origin',
      'X-Frame-Options': 'DENY',
    });
    next();
  });

  // The chat discovers the key set from here (AUTH_ISSUER = this app's URL).
  app.get('/.well-known/openid-configuration', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(tokens.openIdConfiguration());
  });
  app.get('/.well-known/jwks.json', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(tokens.jwks());
  });

  // Webhooks need the raw body: the signature is over its exact bytes. Mounted before the session.
  app.post('/webhooks', express.raw({ type: () => true, limit: '1mb' }), (req, res) => {
    if (!webhooks) {
      res.status(503).json(apiError('WEBHOOKS_OFF', 'CHAT_WEBHOOK_SECRET is not set.'));
      return;
    }
    const body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    const result = webhooks.receive(body, req.headers);
    if (!result.ok) {
      log(`webhook refused: ${result.reason}`);
      res.status(401).json(apiError('INVALID_SIGNATURE', result.reason));
      return;
    }
    const { event, duplicate } = result;
    const project = [...projectRooms].find(([, roomId]) => roomId === event.data.roomId)?.[0];
    log(
      `webhook ${event.type} room=${event.data.roomId ?? '-'} seq=${event.data.seq ?? '-'}${
        project ? ` project=${project}` : ''
      }${duplicate ? ' (again)' : ''}`,
    );
    res.status(204).end();
  });

  const secure = config.publicUrl.startsWith('https:');
  app.use(
    session({
      name: SESSION_COOKIE,
      secret: config.sessionSecret ?? randomBytes(32).toString('base64url'),
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax', secure, maxAge: 8 * 60 * 60 * 1000, path: '/' },
    }),
  );
  app.use(express.urlencoded({ extended: false, limit: '8kb' }));

  // Forms post only from this app's own pages (SameSite=Lax keeps the cookie off other sites' posts too).
  app.use((req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    const origin = req.get('origin');
    const site = req.get('sec-fetch-site');
    if ((origin !== undefined && origin !== config.publicUrl) || site === 'cross-site') {
      res.status(403).type('text/plain').send('Cross-site request refused.');
      return;
    }
    next();
  });

  const currentUser = (req: Request): HostUser | undefined =>
    req.session.userId === undefined ? undefined : directory.user(req.session.userId);
  const ctx = (req: Request): views.PageContext => ({ user: currentUser(req), chatUrl: config.chatUrl });
  const requireUser = (req: Request, res: Response): HostUser | undefined => {
    const user = currentUser(req);
    if (!user) res.redirect(303, `/signin?next=${encodeURIComponent(req.originalUrl)}`);
    return user;
  };

  app.get('/', (req, res) => {
    res.type('html').send(views.homePage(ctx(req)));
  });

  app.get('/signin', (req, res) => {
    res.type('html').send(
      views.signInPage(ctx(req), {
        next: localPath(req.query.next),
        usernames: directory.users().map((u) => u.username),
      }),
    );
  });

  app.post('/signin', async (req, res) => {
    const username = typeof req.body?.username === 'string' ? req.body.username : '';
    const password = typeof req.body?.password === 'string' ? req.body.password : '';
    const next = localPath(req.body?.next);
    const user = username && password ? directory.authenticate(username, password) : undefined;
    if (!user) {
      res
        .status(401)
        .type('html')
        .send(
          views.signInPage(ctx(req), {
            error: 'Wrong username or password.',
            next,
            usernames: directory.users().map((u) => u.username),
          }),
        );
      return;
    }
    // A new session id at sign-in (no session fixation).
    await new Promise<void>((resolve, reject) => req.session.regenerate((e) => (e ? reject(e) : resolve())));
    req.session.userId = user.id;
    await new Promise<void>((resolve, reject) => req.session.save((e) => (e ? reject(e) : resolve())));
    res.redirect(303, next);
  });

  app.post('/signout', async (req, res) => {
    await new Promise<void>((resolve) => req.session.destroy(() => resolve()));
    res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'lax', secure, path: '/' });
    res.redirect(303, '/');
  });

  // The widget fetches this with the page's cookies and sends the token to the chat.
  app.get('/chat-token', async (req, res) => {
    res.set('Cache-Control', 'no-store');
    const user = currentUser(req);
    if (!user) {
      res.status(401).type('text/plain').send('Not signed in.');
      return;
    }
    const { token } = await tokens.tokenFor(user);
    res.type('text/plain').send(token);
  });

  app.get('/support', (req, res) => {
    res.type('html').send(views.supportPage(ctx(req)));
  });

  app.get('/inbox', (req, res) => {
    if (requireUser(req, res)) res.type('html').send(views.inboxPage(ctx(req)));
  });

  app.get('/projects', (req, res) => {
    const user = requireUser(req, res);
    if (!user) return;
    const mine = directory.projects
      .filter((p) => p.members.includes(user.id))
      .map((project) => ({ project, roomId: projectRooms.get(project.id) }));
    res.type('html').send(views.projectsPage(ctx(req), mine));
  });

  const memberProject = (req: Request, res: Response, user: HostUser): Project | undefined => {
    const project = directory.project(String(req.params.id));
    if (!project || !project.members.includes(user.id)) {
      res
        .status(404)
        .type('html')
        .send(views.errorPage(ctx(req), 'Not found', 'You are on no such project.'));
      return undefined;
    }
    return project;
  };

  app.get('/projects/:id', (req, res) => {
    const user = requireUser(req, res);
    const project = user && memberProject(req, res, user);
    if (!project) return;
    const members = project.members.map((id) => directory.user(id)?.name ?? id);
    res.type('html').send(views.projectPage(ctx(req), project, projectRooms.get(project.id), members));
  });

  // The backend side of the chat: a room for the project, made through the server API.
  app.post('/projects/:id/chat', async (req, res) => {
    const user = requireUser(req, res);
    const project = user && memberProject(req, res, user);
    if (!user || !project) return;
    const wantsJson = req.accepts(['html', 'json']) === 'json';
    if (!chatApi) {
      const message = 'CHAT_API_KEY is not set: this app cannot reach the chat server API.';
      if (wantsJson) res.status(503).json(apiError('CHAT_API_OFF', message));
      else
        res
          .status(503)
          .type('html')
          .send(views.errorPage(ctx(req), 'Chat unavailable', message));
      return;
    }
    let roomId = projectRooms.get(project.id);
    try {
      if (roomId === undefined) {
        // One room per project, even when two members click at once.
        let pending = opening.get(project.id);
        if (!pending) {
          pending = openProjectRoom(chatApi, directory, project, user)
            .then((id) => {
              projectRooms.set(project.id, id);
              return id;
            })
            .finally(() => opening.delete(project.id));
          opening.set(project.id, pending);
        }
        roomId = await pending;
      }
    } catch (error) {
      if (!(error instanceof ChatApiError)) throw error;
      log(`chat server API refused: ${error.message}`);
      if (wantsJson) res.status(502).json(apiError(error.code, error.message));
      else
        res
          .status(502)
          .type('html')
          .send(views.errorPage(ctx(req), 'The chat refused', error.message));
      return;
    }
    if (wantsJson) res.status(201).json({ projectId: project.id, roomId });
    else res.redirect(303, `/projects/${encodeURIComponent(project.id)}`);
  });

  const requireStaff = (req: Request, res: Response): boolean => {
    const user = requireUser(req, res);
    if (user && user.role === 'user') {
      res
        .status(403)
        .type('html')
        .send(views.errorPage(ctx(req), 'Forbidden', 'Agents and admins only.'));
      return false;
    }
    return user !== undefined;
  };
  app.get('/events', (req, res) => {
    if (requireStaff(req, res))
      res.type('html').send(views.eventsPage(ctx(req), webhooks?.latest(100) ?? []));
  });
  app.get('/events.json', (req, res) => {
    if (requireStaff(req, res)) res.json({ events: webhooks?.latest(100) ?? [] });
  });

  app.use((req, res) => {
    res
      .status(404)
      .type('html')
      .send(views.errorPage(ctx(req), 'Not found', 'There is no such page.'));
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (error as { status?: number }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).type('text/plain').send('Bad request.');
      return;
    }
    log(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    res.status(500).type('text/plain').send('Something went wrong.');
  });

  return { app, config, tokens, directory, webhooks, projectRooms };
}

/** Upserts the project's people in the chat, creates their private room and says who opened it. */
async function openProjectRoom(
  api: ChatApi,
  directory: Directory,
  project: Project,
  by: HostUser,
): Promise<string> {
  for (const id of project.members) {
    const member = directory.user(id);
    if (member) await api.upsertUser(member.id, { displayName: member.name, role: member.role });
  }
  const { room } = await api.createRoom({ name: project.name, private: true, members: [...project.members] });
  await api.postMessage(room.id, {
    text: `${by.name} opened the chat of ${project.name}.`,
    clientMessageId: `project-${project.id}-opened`,
  });
  return room.id;
}

/** `{error: {code, message}}`. */
function apiError(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

/** A path on this site to go to after sign-in (never another site's URL). */
function localPath(value: unknown): string {
  return typeof value === 'string' &&
    value.startsWith('/') &&
    !value.startsWith('//') &&
    !value.includes('\\')
    ? value
    : '/';
}

/** A running host app. */
export interface RunningHostApp extends HostApp {
  readonly server: Server;
  /** The address it listens on (may differ from `config.publicUrl` behind a proxy). */
  readonly url: string;
  close(): Promise<void>;
}

/** Serves the host app on `port` (0: a free one), on every interface unless `host` is given. */
export async function startHostApp(
  config: HostAppConfig,
  port: number,
  options: HostAppOptions & { host?: string; server?: Server } = {},
): Promise<RunningHostApp> {
  const hostApp = await createHostApp(config, options);
  const server = options.server ?? createServer();
  server.on('request', hostApp.app);
  if (!server.listening) await new Promise<void>((resolve) => server.listen(port, options.host, resolve));
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    ...hostApp,
    server,
    url: `http://${host === '[::]' || host === '0.0.0.0' ? 'localhost' : host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
