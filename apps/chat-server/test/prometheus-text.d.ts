// Types of parse-prometheus-text-format (the package ships none): what the tests read of it.
declare module 'parse-prometheus-text-format' {
  /** One sample of a counter or gauge family, or one histogram/summary series. */
  interface Sample {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }
  /** One metric family of the text: its name, help, type and samples. */
  interface Family {
    name: string;
    help: string;
    type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
    metrics: Sample[];
  }
  export default function parse(text: string): Family[];
}
