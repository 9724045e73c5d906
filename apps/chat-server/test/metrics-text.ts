// Reading `/metrics` in tests through a Prometheus text parser, and the names docs/server.md lists.
import { readFileSync } from 'node:fs';
import parse from 'parse-prometheus-text-format';

/** The metric families of a Prometheus text, by name. */
export function families(text: string): Map<string, ReturnType<typeof parse>[number]> {
  return new Map(parse(text).map((family) => [family.name, family]));
}

/**
 * The sum of the samples of `name` whose labels include `labels`, or undefined when the text has
 * no such family. Series of every label set add up (a hub's series started at 0 included).
 */
export function metricSum(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const family = families(text).get(name);
  if (family === undefined) return undefined;
  let total = 0;
  for (const sample of family.metrics) {
    if (sample.value === undefined) continue;
    if (Object.entries(labels).every(([k, v]) => sample.labels?.[k] === v)) total += Number(sample.value);
  }
  return total;
}

/** Suffixes an exporter may add to a documented name. */
const SUFFIXES = ['', '_total', '_bucket', '_sum', '_count', '_seconds', '_bytes'];

/** Whether `text` serves the documented `name` (under any suffix an exporter would add). */
export function serves(text: string, name: string): boolean {
  const served = families(text);
  return SUFFIXES.some((suffix) => {
    const base = name.endsWith('_total') && suffix !== '' ? name.slice(0, -'_total'.length) : name;
    return served.has(`${base}${suffix}`);
  });
}

/**
 * The Prometheus names docs/server.md lists in its OpenTelemetry section (the last column of its
 * tables), split into those every node serves and those only a node with a backplane serves.
 */
export function documentedMetricNames(): { always: string[]; backplane: string[] } {
  const doc = readFileSync(new URL('../../../docs/server.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## OpenTelemetry'));
  const always: string[] = [];
  const backplane: string[] = [];
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const last = /^`([a-z_]+)`$/.exec(cells.at(-2) ?? '');
    if (!line.startsWith('| `') || last === null) continue;
    (line.includes('(backplane)') ? backplane : always).push(last[1]!);
  }
  return { always, backplane };
}
