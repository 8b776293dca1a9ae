import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

// Connection settings for the real `mariadb` command-line client, connecting
// through the Portico listener (never directly to the backend).
export const listenerPort = Number(process.env.PORTICO_LISTENER_PORT ?? '4006');
export const dbUser = process.env.PORTICO_DB_USER ?? 'maxuser';
export const dbPassword = process.env.PORTICO_DB_PASSWORD ?? 'maxpwd';
const clientBinary = process.env.PORTICO_MARIADB_CLIENT ?? 'mariadb';

/**
 * A running `mariadb --batch` process whose stdin stays open, so the session
 * lives until close() or kill() is called.
 */
export class MariaDBClient {
  private stdout = '';
  private stderr = '';
  private exitCode: number | null = null;
  private exited: Promise<number | null>;

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

  /** Starts `mariadb` connected to 127.0.0.1:listenerPort. */
  static spawn(): MariaDBClient {
    const args = [
      '--no-defaults',
      '--protocol=TCP',
      '-h', '127.0.0.1',
      '-P', String(listenerPort),
      '-u', dbUser,
      `-p${dbPassword}`,
      '--batch',
      // Flush after every statement; otherwise stdout (a pipe) is block
      // buffered and nothing arrives until the client exits.
      '--unbuffered',
      '--connect-timeout=5',
    ];
    const proc = spawn(clientBinary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    return new MariaDBClient(proc);
  }

  /**
   * Returns the connection id the client was given in the server greeting,
   * which Portico rewrites to its session id. The client's `status` command
   * prints it. (SELECT CONNECTION_ID() would run on the backend and return
   * the backend's thread id instead.) `status` output is block-buffered even
   * with --unbuffered; the query after it flushes it.
   */
  async connectionId(timeoutMs = 10_000): Promise<string> {
    this.proc.stdin.write('status\nSELECT 1 AS flushed;\n');
    const match = await this.waitForOutput(/^Connection id:\s+(\d+)$/m, timeoutMs);
    return match[1];
  }

  private waitForOutput(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const poll = () => {
        const m = this.stdout.match(re);
        if (m) return resolve(m);
        if (this.exitCode !== null) {
          return reject(new Error(`mariadb exited (${this.exitCode}) before answering: ${this.describe()}`));
        }
        if (Date.now() > deadline) {
          return reject(new Error(`timed out after ${timeoutMs}ms waiting for mariadb: ${this.describe()}`));
        }
        setTimeout(poll, 25);
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
    return `stdout=${JSON.stringify(this.stdout)} stderr=${JSON.stringify(this.stderr)}`;
  }
}
