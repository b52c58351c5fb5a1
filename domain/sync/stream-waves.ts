/**
 * Orders a connector's streams into waves: every stream runs after the streams it depends on
 * (Marketo companies are read by keys found on leads). Streams of one wave run side by side.
 * Pure and deterministic (the sync workflow uses it).
 */
export interface StreamDependency {
  name: string;
  dependsOn: readonly string[];
}

export function streamWaves<T extends StreamDependency>(streams: readonly T[]): T[][] {
  const names = new Set(streams.map((s) => s.name));
  for (const s of streams) {
    for (const d of s.dependsOn) if (!names.has(d)) throw new Error(`stream '${s.name}' depends on unknown stream '${d}'`);
  }
  const done = new Set<string>();
  const waves: T[][] = [];
  let left = [...streams];
  while (left.length) {
    const wave = left.filter((s) => s.dependsOn.every((d) => done.has(d)));
    if (!wave.length) throw new Error(`streams depend on each other in a cycle: ${left.map((s) => s.name).join(', ')}`);
    waves.push(wave);
    for (const s of wave) done.add(s.name);
    left = left.filter((s) => !done.has(s.name));
  }
  return waves;
}
