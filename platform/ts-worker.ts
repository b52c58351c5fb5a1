/**
 * Worker threads running TypeScript modules, for CPU work that would otherwise serialise behind
 * the one Node thread while Postgres waits (a rebuild's profile rows). A job is one message in
 * and one message out; each worker answers its jobs in order.
 */
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

export class WorkerPool<In, Out> {
  private readonly workers: Worker[];
  private readonly waiting: Array<Array<{ resolve(v: Out): void; reject(e: unknown): void }>>;
  /** Why a worker died (its later jobs are refused at once). */
  private readonly dead: Array<unknown | undefined>;
  private next = 0;

  /** `entry`: a module that calls `serveJobs`; `data` reaches its handler. */
  constructor(entry: string, data: unknown, size = 1) {
    this.workers = Array.from({ length: size }, () => new Worker(join(__dirname, 'ts-worker-boot.cjs'), { workerData: { entry, data } }));
    this.waiting = this.workers.map(() => []);
    this.dead = this.workers.map(() => undefined);
    this.workers.forEach((w, i) => {
      w.on('message', (m: { ok: true; out: Out } | { ok: false; error: string }) => {
        const p = this.waiting[i]!.shift();
        if (m.ok) p?.resolve(m.out);
        else p?.reject(new Error(m.error));
      });
      const fail = (e: unknown) => {
        this.dead[i] ??= e;
        for (const p of this.waiting[i]!.splice(0)) p.reject(e);
      };
      w.on('error', fail);
      w.on('exit', (code) => fail(new Error(`worker thread exited (${code})`)));
    });
  }

  /**
   * Sends a job to the next worker. The promise is marked handled at once (a caller that awaits
   * jobs in order still sees each failure, but a failure behind the one it awaits never becomes an
   * unhandled rejection that would end the process); a job for a dead worker fails at once.
   */
  run(job: In): Promise<Out> {
    const i = this.next++ % this.workers.length;
    if (this.dead[i] !== undefined) return handled(Promise.reject(this.dead[i]));
    const out = new Promise<Out>((resolve, reject) => this.waiting[i]!.push({ resolve, reject }));
    this.workers[i]!.postMessage(job);
    return handled(out);
  }

  /** Stops the workers; jobs still waiting are rejected. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.waiting.forEach((q) => q.splice(0).forEach((p) => p.reject(new Error('worker pool closed'))));
  }
}

function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** In a worker module: answers each job with `handle(job, data)`, or with its error. */
export function serveJobs<In, Out, Data>(handle: (job: In, data: Data) => Out): void {
  if (isMainThread || !parentPort) throw new Error('serveJobs runs in a worker thread');
  const data = (workerData as { data: Data }).data;
  const port = parentPort;
  port.on('message', (job: In) => {
    try {
      port.postMessage({ ok: true, out: handle(job, data) });
    } catch (e) {
      port.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  });
}
