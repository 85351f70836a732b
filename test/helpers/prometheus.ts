// Reads Prometheus exposition text with the Prometheus project's own parser (the official Python
// client's `text_string_to_metric_families`, Debian's python3-prometheus-client), so a test sees
// what a Prometheus server would scrape, not what Stratus meant to print.
import { execFile } from 'node:child_process';

export interface Sample {
  /** The sample's name: a counter's `_total`, a histogram's `_bucket`, `_sum` and `_count`. */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: string;
  samples: Sample[];
}

const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
print(json.dumps([{'name': f.name, 'type': f.type, 'samples': [{'name': s.name, 'labels': s.labels, 'value': s.value} for s in f.samples]}
                  for f in text_string_to_metric_families(sys.stdin.read())]))
`;

/** Parses exposition text; rejects what the parser refuses. */
export function parseExposition(text: string): Promise<MetricFamily[]> {
  return new Promise((resolve, reject) => {
    const child = execFile('/usr/bin/python3', ['-c', PARSE], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`the exposition text does not parse: ${stderr}`));
      else resolve(JSON.parse(stdout) as MetricFamily[]);
    });
    child.stdin?.end(text);
  });
}

/** One scrape: samples looked up by name and exact label set. */
export class Scrape {
  constructor(readonly families: MetricFamily[]) {}

  /** The sample `name` whose labels are exactly `labels` (undefined: no such series). */
  sample(name: string, labels: Record<string, string>): Sample | undefined {
    const key = labelKey(labels);
    for (const family of this.families) for (const s of family.samples) if (s.name === name && labelKey(s.labels) === key) return s;
    return undefined;
  }

  /** A sample's value, 0 for a series that does not exist. */
  value(name: string, labels: Record<string, string>): number {
    return this.sample(name, labels)?.value ?? 0;
  }

  /** Every sample named `name`. */
  all(name: string): Sample[] {
    return this.families.flatMap((f) => f.samples.filter((s) => s.name === name));
  }

  type(family: string): string | undefined {
    return this.families.find((f) => f.name === family)?.type;
  }
}

function labelKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}
