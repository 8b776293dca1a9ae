import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, type Page, type TestInfo } from '@playwright/test';
import { listenerPort as suiteListenerPort, otherListenerPort as suiteOtherListenerPort } from './mariadb';

export const adminURL = process.env.PORTICO_ADMIN_URL ?? 'http://127.0.0.1:8989';
export const adminUser = process.env.PORTICO_ADMIN_USER ?? 'admin';
export const adminPassword = process.env.PORTICO_ADMIN_PASSWORD ?? 'mariadb';
export const basicAuth = 'Basic ' + Buffer.from(`${adminUser}:${adminPassword}`).toString('base64');

/** The repository's root, web/e2e/helpers/../../.. */
const repoRoot = path.resolve(__dirname, '..', '..', '..');
const porticoBinary = process.env.PORTICO_BINARY ?? path.join(repoRoot, 'bin', 'portico');
const e2eConfig = path.resolve(__dirname, '..', 'portico-e2e.cnf');

/** A session as GET /v1/sessions returns it (the fields the tests read). */
export interface APISession {
  id: string;
  attributes: {
    state: string;
    user: string;
    remote: string;
    database: string | null;
    connections: { server: string; connection_id: number }[];
    parameters: Record<string, boolean>;
    queries_total?: number;
    [key: string]: unknown;
  };
  relationships: { services: { data: { id: string }[] } };
}

/** The REST API of the Portico at base, with the suite's Basic credentials. */
export class API {
  constructor(readonly base = adminURL) {}

  async fetch(pathname: string, init: RequestInit = {}): Promise<Response> {
    return fetch(this.base + pathname, {
      ...init,
      headers: { Authorization: basicAuth, ...(init.headers ?? {}) },
    });
  }

  async sessions(): Promise<APISession[]> {
    const res = await this.fetch('/v1/sessions');
    expect(res.status, 'GET /v1/sessions').toBe(200);
    return ((await res.json()) as { data: APISession[] }).data;
  }

  /** The session, or null once it is gone (404). */
  async session(id: string): Promise<APISession | null> {
    const res = await this.fetch(`/v1/sessions/${id}`);
    if (res.status === 404) return null;
    expect(res.status, `GET /v1/sessions/${id}`).toBe(200);
    return ((await res.json()) as { data: APISession }).data;
  }

  async ready(): Promise<boolean> {
    try {
      return (await this.fetch('/v1/services')).status === 200;
    } catch {
      return false;
    }
  }
}

export const api = new API();

export function serviceOf(s: APISession): string {
  return s.relationships.services.data[0]?.id ?? '';
}

/** Opens path and waits until the WASM client has the stream live. */
export async function gotoLive(page: Page, pathname: string): Promise<void> {
  await page.goto(pathname);
  await expectLive(page);
}

export async function expectLive(page: Page, timeout = 15_000): Promise<void> {
  await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'live', { timeout });
  await expect(page.getByTestId('stream-status')).toHaveText('live');
}

export function sessionRow(page: Page, id: string) {
  return page.locator(`tr[data-testid="session-row"][data-session-id="${id}"]`);
}

/** The session ids of the rows in the table's DOM, in order. */
export async function rowIDs(page: Page): Promise<string[]> {
  return page
    .locator('#session-rows tr[data-testid="session-row"]')
    .evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.sessionId ?? ''));
}

/** ids, in the order the table shows them (ids not shown are left out). */
export async function shownOrder(page: Page, ids: string[]): Promise<string[]> {
  const all = await rowIDs(page);
  return all.filter((id) => ids.includes(id));
}

/**
 * Saves a screenshot of the page as an attachment of the test and as
 * test-results/screenshots/NAME.png.
 */
export async function saveScreenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const file = path.resolve(__dirname, '..', 'test-results', 'screenshots', `${name}.png`);
  const body = await page.screenshot({ path: file, fullPage: true, animations: 'disabled', caret: 'hide' });
  await testInfo.attach(name, { body, contentType: 'image/png' });
}

export interface PorticoOptions {
  /**
   * Admin port, then the ports of the listeners of E2E-Router and
   * E2E-Other; free ports where not given.
   */
  ports?: number[];
  /** Run `portico simulate` with this many made-up sessions instead. */
  simulate?: { sessions: number; rate?: number; seed?: number };
}

/** The ports an environment variable lists ("18992,14009,14010"), if set. */
export function portsFromEnv(name: string): number[] | undefined {
  const v = process.env[name];
  return v ? v.split(',').map(Number) : undefined;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A Portico of a test's own, from a copy of portico-e2e.cnf on other ports
 * and with its own datadir: for stopping and starting it, or for simulated
 * sessions, without disturbing the suite's.
 */
export class OwnPortico {
  readonly url: string;
  readonly api: API;
  private readonly dir: string;
  private readonly config: string;
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private log = '';

  /** Picks its ports and writes its configuration; start() starts it. */
  static async create(o: Omit<PorticoOptions, 'ports'> & { ports?: number[] }): Promise<OwnPortico> {
    const ports = [...(o.ports ?? [])];
    while (ports.length < 3) ports.push(await freePort());
    return new OwnPortico(ports[0], ports[1], ports[2], o.simulate);
  }

  private constructor(
    readonly adminPort: number,
    readonly listenerPort: number,
    readonly otherListenerPort: number,
    private readonly simulate?: PorticoOptions['simulate'],
  ) {
    this.url = `http://127.0.0.1:${adminPort}`;
    this.api = new API(this.url);
    this.dir = mkdtempSync(path.join(tmpdir(), 'portico-e2e-'));
    this.config = path.join(this.dir, 'portico.cnf');
    const text = readFileSync(e2eConfig, 'utf8')
      .replace(/^admin_port=.*$/m, `admin_port=${adminPort}`)
      .replace(/^datadir=.*$/m, `datadir=${path.join(this.dir, 'data')}`)
      .replace(new RegExp(`^port=${suiteListenerPort}$`, 'm'), `port=${listenerPort}`)
      .replace(new RegExp(`^port=${suiteOtherListenerPort}$`, 'm'), `port=${otherListenerPort}`);
    for (const want of [`admin_port=${adminPort}`, `port=${listenerPort}`, `port=${otherListenerPort}`]) {
      if (!text.includes(want)) throw new Error(`could not move ${e2eConfig} to ${want}`);
    }
    writeFileSync(this.config, text);
  }

  get logText(): string {
    return this.log;
  }

  /** Starts Portico and waits until its REST API answers. */
  async start(timeoutMs = 15_000): Promise<void> {
    if (this.proc) throw new Error('already started');
    if (await this.api.ready()) {
      throw new Error(`something already answers on ${this.url}`);
    }
    // stop() must cut clients off at once, not let them drain.
    const args = this.simulate
      ? [
          'simulate', '--config', this.config, '--admin', `127.0.0.1:${this.adminPort}`,
          '--sessions', String(this.simulate.sessions),
          '--rate', String(this.simulate.rate ?? 0),
          '--seed', String(this.simulate.seed ?? 1),
        ]
      : ['--config', this.config, '--drain-timeout', '0s'];
    const proc = spawn(porticoBinary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stdout!.setEncoding('utf8').on('data', (c: string) => (this.log += c));
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => (this.log += c));
    this.exited = new Promise((resolve) => proc.on('exit', () => resolve()));
    let gone = false;
    void this.exited.then(() => (gone = true));
    const deadline = Date.now() + timeoutMs;
    while (!(await this.api.ready())) {
      if (gone) throw new Error(`portico exited before it was ready:\n${this.log}`);
      if (Date.now() > deadline) throw new Error(`portico not ready within ${timeoutMs}ms:\n${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops Portico (SIGTERM, then SIGKILL after timeoutMs) and waits for it. */
  async stop(timeoutMs = 10_000): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      await this.exited;
      clearTimeout(timer);
    }
  }

  /** Stops Portico and removes its directory. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
