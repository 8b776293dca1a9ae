import { readResults, resultsPath, type Results } from './results';

// Prints the run's results as a table once every phase is over, passed or
// failed (the config's globalTeardown).

const ms = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : `${v} ms`);
const mib = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : `${(v / 2 ** 20).toFixed(1)} MiB`);
const signed = (v: number, f: (v: number) => string) => (v >= 0 ? '+' : '-') + f(Math.abs(v));
const verdict = (v: number | null | undefined, limit: number) =>
  v === null || v === undefined ? 'MISSED' : v <= limit ? 'ok' : 'MISSED';

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

export function format(r: Results): string {
  const out: string[] = [];
  const c = r.config;
  out.push(
    `Portico dashboard performance: ${c.sessions} sessions, ${c.rate} changes/s, ${c.url}, Chromium ${c.chromium ?? '?'}`,
  );
  const rows: string[][] = [['metric', 'value', 'budget', '']];
  if (r.startup) {
    const s = r.startup;
    rows.push(['first contentful paint (median)', ms(s.medianFcpMs), `<= ${r.budget.fcpMs} ms`, verdict(s.medianFcpMs, r.budget.fcpMs)]);
    rows.push(['live table (median)', ms(s.medianLiveMs), `<= ${r.budget.liveMs} ms`, verdict(s.medianLiveMs, r.budget.liveMs)]);
    s.runs.forEach((run, i) =>
      rows.push([
        `  load ${i + 1}`,
        `fcp ${ms(run.fcpMs)}, live ${ms(run.liveMs)} (${run.liveSource ?? 'never'}), html ${ms(run.responseEndMs)} ` +
          `(${mib(run.htmlBytes)}), DOMContentLoaded ${ms(run.domContentLoadedMs)}, wasm ${ms(run.wasmMs)}`,
        '',
        '',
      ]),
    );
  }
  if (r.frames) {
    const f = r.frames;
    const dist = (d: typeof f.deltas) =>
      d ? `p50 ${d.p50}  p95 ${d.p95}  p99 ${d.p99}  max ${d.max} ms (${d.n} frames)` : 'no frames';
    rows.push([
      `frame time over ${f.seconds} s`,
      dist(f.snapped),
      `p95 <= ${r.budget.frameP95Ms} ms`,
      verdict(f.snapped?.p95, r.budget.frameP95Ms),
    ]);
    rows.push(['  as measured (0.1 ms timer)', dist(f.deltas), '', '']);
    rows.push(['  late (> 1 refresh) / > 50 ms', `${f.late} / ${f.long}`, '', '']);
    const l = f.longAnimationFrames;
    rows.push([
      '  long animation frames',
      l ? `${l.count}, ${l.totalMs} ms in all, longest ${l.maxMs} ms, blocking ${l.blockingMs} ms` : 'not supported',
      '',
      '',
    ]);
    const per = (n: number) => (n / f.seconds).toFixed(0);
    rows.push([
      '  stream received',
      `${per(f.stream.frames)} frames/s, ${per(f.stream.updated)} updated + ${per(f.stream.added)} added + ` +
        `${per(f.stream.removed)} removed sessions/s, ${(f.stream.bytes / f.seconds / 1024).toFixed(0)} KiB/s`,
      '',
      '',
    ]);
    rows.push(['  page at the end', `${f.state}, ${f.count} sessions`, '', '']);
  }
  if (r.memory) {
    const m = r.memory;
    const last = m.samples[m.samples.length - 1];
    if (last) {
      rows.push([
        `memory after ${last.t} s`,
        `JS heap ${mib(last.jsHeapUsed)} (after GC), WASM ${mib(last.wasmBytes)}, ${last.domNodes} DOM nodes`,
        'stable',
        '',
      ]);
    }
    if (m.growth) {
      const g = m.growth;
      rows.push([
        `  growth ${g.from} s -> ${g.to} s`,
        `JS heap ${signed(g.jsHeapBytes, mib)} (${g.jsHeapPercent}%), WASM ` +
          `${g.wasmBytes === null ? 'n/a' : signed(g.wasmBytes, mib)}, DOM nodes ${g.domNodes >= 0 ? '+' : ''}${g.domNodes}`,
        '',
        '',
      ]);
    }
  }
  out.push(table(rows));
  if (r.memory?.samples.length) {
    out.push('');
    out.push(`memory samples (every 30 s, JS heap after a forced GC):`);
    out.push(
      table([
        ['t', 'JS heap used', 'before GC', 'JS heap total', 'WASM', 'DOM nodes', 'listeners', 'count', 'state'],
        ...r.memory.samples.map((s) => [
          `${s.t} s`,
          mib(s.jsHeapUsed),
          mib(s.jsHeapUsedBeforeGC),
          mib(s.jsHeapTotal),
          mib(s.wasmBytes),
          String(s.domNodes),
          String(s.listeners),
          s.count ?? 'n/a',
          s.state ?? 'n/a',
        ]),
      ]),
    );
  }
  if (r.failures?.length) {
    out.push('');
    out.push('budget missed: ' + r.failures.join('; '));
  }
  out.push('');
  out.push(`results: ${resultsPath}`);
  return out.join('\n');
}

export default async function report(): Promise<void> {
  const r = readResults();
  if (!r) {
    console.log(`no results from this run in ${resultsPath}`);
    return;
  }
  console.log('\n' + format(r));
}
