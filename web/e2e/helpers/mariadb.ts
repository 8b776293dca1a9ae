import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';

// Connection settings for the real `mariadb` command-line client, connecting
// through a Portico listener (never directly to the backend).
export const listenerPort = Number(process.env.PORTICO_LISTENER_PORT ?? '4006');
// The second listener of portico-e2e.cnf: service E2E-Other over server
// mariadb-alt (the same MariaDB under another name).
export const otherListenerPort = Number(process.env.PORTICO_OTHER_LISTENER_PORT ?? '4007');
export const dbUser = process.env.PORTICO_DB_USER ?? 'maxuser';
export const dbPassword = process.env.PORTICO_DB_PASSWORD ?? 'maxpwd';
const clientBinary = process.env.PORTICO_MARIADB_CLIENT ?? 'mariadb';

/** Extra MariaDB accounts the tests log in as (see ensureUsers). */
export const users = {
  alice: { user: 'e2e_alice', password: 'alice-pw' },
  bob: { user: 'e2e_bob', password: 'bob-pw' },
} as const;

export interface ConnectOptions {
  port?: number;
  user?: string;
  password?: string;
  database?: string;
}

/** A string no other test run uses, for finding a test's own sessions. */
export function marker(prefix = 'e2e'): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

function clientArgs(o: ConnectOptions): string[] {
  const args = [
    '--no-defaults',
    '--protocol=TCP',
    '-h', '127.0.0.1',
    '-P', String(o.port ?? listenerPort),
    '-u', o.user ?? dbUser,
    `-p${o.password ?? dbPassword}`,
    '--connect-timeout=5',
  ];
  if (o.database) args.push('-D', o.database);
  return args;
}

/** Runs statements with `mariadb -e` and resolves with its stdout. */
export function runSQL(sql: string, o: ConnectOptions = {}, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(clientBinary, [...clientArgs(o), '--batch', '-e', sql], { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`mariadb -e ${JSON.stringify(sql)}: ${err.message} ${stderr}`));
      else resolve(stdout);
    });
  });
}

let usersReady: Promise<void> | undefined;

/**
 * Creates the accounts in `users` on the backend (idempotently, through
 * Portico as maxuser), once per worker.
 */
export function ensureUsers(): Promise<void> {
  usersReady ??= (async () => {
    const sql = Object.values(users)
      .flatMap(({ user, password }) =>
        ['%', '127.0.0.1', 'localhost'].map(
          (host) =>
            `CREATE USER IF NOT EXISTS '${user}'@'${host}';` +
            ` ALTER USER '${user}'@'${host}' IDENTIFIED BY '${password}';` +
            ` GRANT SELECT ON portico_demo.* TO '${user}'@'${host}';`,
        ),
      )
      .join(' ');
    await runSQL(sql);
  })();
  return usersReady;
}

/** The line mariadb -vv prints after each statement's answer. */
const answered = /^(?:\d+ rows? in set|Empty set|Query OK, .*)$/gm;

/**
 * A running `mariadb --batch -vv` process whose stdin stays open, so the
 * session lives until close() or kill() is called. Statements are written to
 * its stdin, one at a time; -vv makes the client echo each statement and
 * print a line once it has been answered, which is how the tests know.
 */
export class MariaDBClient {
  private stdout = '';
  private stderr = '';
  private exitCode: number | null = null;
  private exited: Promise<number | null>;
  /** How many statements were sent, answered or not. */
  private sent = 0;

  private constructor(private readonly proc: ChildProcessWithoutNullStreams) {
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => (this.stdout += chunk));
    proc.stderr.on('data', (chunk: string) => (this.stderr += chunk));
    // Writing to stdin after the client died must not crash the test runner.
    proc.stdin.on('error', () => {});
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve(this.exitCode);
      });
      proc.on('error', (err) => {
        this.stderr += `spawn ${clientBinary}: ${err.message}\n`;
        this.exitCode = -1;
        resolve(-1);
      });
    });
  }

  /** Starts `mariadb` connected to 127.0.0.1:port (listenerPort by default). */
  static spawn(o: ConnectOptions = {}): MariaDBClient {
    const args = [
      ...clientArgs(o),
      '--batch',
      '-vv',
      // Flush after every statement; otherwise stdout (a pipe) is block
      // buffered and nothing arrives until the client exits.
      '--unbuffered',
      // A killed session must stay dead: no silent new connection.
      '--skip-reconnect',
    ];
    const proc = spawn(clientBinary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    return new MariaDBClient(proc);
  }

  get running(): boolean {
    return this.exitCode === null;
  }

  get errors(): string {
    return this.stderr;
  }

  /**
   * Returns the connection id the client was given in the server greeting,
   * which Portico rewrites to its session id. The client's `status` command
   * prints it. (SELECT CONNECTION_ID() would run on the backend and return
   * the backend's thread id instead.) `status` output is block-buffered even
   * with --unbuffered; the query after it flushes it.
   */
  async connectionId(timeoutMs = 10_000): Promise<string> {
    const from = this.stdout.length;
    this.sent++;
    this.proc.stdin.write('status\nSELECT 1 AS flushed;\n');
    const match = await this.waitFor(() => this.stdout.slice(from).match(/^Connection id:\s+(\d+)$/m), timeoutMs);
    return match[1];
  }

  /** The backend's thread id of the session's connection. */
  async backendThreadId(): Promise<string> {
    const out = await this.query('SELECT CONNECTION_ID() AS backend_thread');
    const m = out.match(/^backend_thread\n(\d+)$/m);
    if (!m) throw new Error(`no thread id in ${JSON.stringify(out)}`);
    return m[1];
  }

  /**
   * Runs sql (one statement, without the semicolon) and resolves with the
   * client's output for it once it has been answered.
   */
  async query(sql: string, timeoutMs = 15_000): Promise<string> {
    return this.start(sql)(timeoutMs);
  }

  /**
   * Sends sql (one statement, without the semicolon) and returns at once;
   * the returned function waits for its answer and resolves with the
   * client's output for it.
   */
  start(sql: string): (timeoutMs?: number) => Promise<string> {
    const from = this.stdout.length;
    const n = ++this.sent;
    this.proc.stdin.write(`${sql};\n`);
    return async (timeoutMs = 15_000) => {
      await this.waitFor(() => this.answers() >= n || null, timeoutMs);
      return this.stdout.slice(from);
    };
  }

  private answers(): number {
    return this.stdout.match(answered)?.length ?? 0;
  }

  /**
   * Sends a query to a session that should have been killed and resolves
   * with the client's error output once it has exited; rejects if the query
   * is answered instead.
   */
  async expectDisconnected(timeoutMs = 10_000): Promise<string> {
    if (this.exitCode === null) {
      const n = ++this.sent;
      this.proc.stdin.write("SELECT 'still alive' AS probe;\n");
      const deadline = Date.now() + timeoutMs;
      while (this.exitCode === null) {
        if (this.answers() >= n) {
          throw new Error(`the session still answers queries: ${this.describe()}`);
        }
        if (Date.now() > deadline) {
          throw new Error(`mariadb neither failed nor exited within ${timeoutMs}ms: ${this.describe()}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    if (this.exitCode === 0) {
      throw new Error(`mariadb exited cleanly, not with a lost connection: ${this.describe()}`);
    }
    return this.stderr;
  }

  private waitFor<T>(check: () => T | null, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const poll = () => {
        const v = check();
        if (v) return resolve(v);
        if (this.exitCode !== null) {
          return reject(new Error(`mariadb exited (${this.exitCode}) before answering: ${this.describe()}`));
        }
        if (Date.now() > deadline) {
          return reject(new Error(`timed out after ${timeoutMs}ms waiting for mariadb: ${this.describe()}`));
        }
        setTimeout(poll, 20);
      };
      poll();
    });
  }

  /** Closes stdin so the client quits, and waits for it to exit. */
  async close(timeoutMs = 10_000): Promise<number | null> {
    this.proc.stdin.end();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`mariadb did not exit within ${timeoutMs}ms: ${this.describe()}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills the client if it is still running; safe to call more than once. */
  async kill(): Promise<void> {
    if (this.exitCode === null) {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
  }

  private describe(): string {
    return `stdout=${JSON.stringify(this.stdout.slice(-2000))} stderr=${JSON.stringify(this.stderr)}`;
  }
}

/**
 * Clients opened by a test, all killed when it ends: call clients.open() in
 * tests and clients.killAll() in afterEach.
 */
export class ClientPool {
  private list: MariaDBClient[] = [];

  open(o: ConnectOptions = {}): MariaDBClient {
    const c = MariaDBClient.spawn(o);
    this.list.push(c);
    return c;
  }

  /** Opens a client and waits for its Portico session id. */
  async connect(o: ConnectOptions = {}): Promise<{ client: MariaDBClient; id: string }> {
    const client = this.open(o);
    return { client, id: await client.connectionId() };
  }

  async killAll(): Promise<void> {
    const list = this.list;
    this.list = [];
    await Promise.all(list.map((c) => c.kill()));
  }
}
