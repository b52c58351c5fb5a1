/** Waits until an HTTP endpoint answers 2xx (a service starting up), or throws after `timeoutMs`. */
export async function waitForHttpOk(url: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer 2xx within ${timeoutMs / 1000} s`);
}
