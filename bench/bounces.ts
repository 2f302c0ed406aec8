/**
 * Scores the bounce classifier on a labelled corpus and measures its speed on one core.
 *
 *   npm run bench:bounces -- --corpus ../shared/corpus/bounces [--passes 10] [--misses]
 *
 * The corpus is a directory with `manifest.jsonl` (one expected answer per line) and the messages
 * under `emails/`. Files are read before timing starts; only the classify calls are timed.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { classifyMessage } from '../src/bounces/classify/index.ts';
import type { BounceVerdict, Category } from '../src/bounces/classify/index.ts';

interface ExpectedRecipient {
  recipient: string | null;
}

interface AltExpected {
  expected: Array<{ status?: string; reason?: string; hardbounce?: boolean }>;
}

interface ManifestEntry {
  path: string;
  family: string;
  category: string;
  bounceType: 'hard' | 'soft' | null;
  reason: string | null;
  status: string | null;
  statusIsPseudo: boolean | null;
  altExpected: AltExpected[] | null;
  recipients: ExpectedRecipient[];
}

/*
 * Manifest categories onto the verdict's. `not_bounce` is ordinary mail, our `none`.
 * `autoreply_reporting_failure` is an out-of-office style auto-reply ("this inbox is no longer in
 * use"): it comes from the responder's own address with Auto-Submitted: auto-replied and carries no
 * delivery-status, no SMTP code and no failed recipient (the label's recipient is the responder).
 * Our rule is that an auto-reply is never a bounce, so it is scored as `autoreply` with reason
 * `vacation`; the label's isBounce/suspend is not used for it.
 */
const CATEGORY: Record<string, Category> = {
  bounce: 'bounce',
  autoreply: 'autoreply',
  autoreply_reporting_failure: 'autoreply',
  feedback: 'feedback',
  delivered: 'delivered',
  not_bounce: 'none',
};

function expectedCategory(entry: ManifestEntry): Category {
  return CATEGORY[entry.category] ?? 'none';
}

function expectedReasons(entry: ManifestEntry): string[] {
  if (entry.category === 'autoreply_reporting_failure') return ['vacation'];
  const alternatives = (entry.altExpected ?? []).flatMap((a) => a.expected.map((e) => e.reason ?? ''));
  return [entry.reason ?? '', ...alternatives].filter(Boolean);
}

function expectedStatuses(entry: ManifestEntry): string[] {
  const alternatives = (entry.altExpected ?? []).flatMap((a) => a.expected.map((e) => e.status ?? ''));
  return [entry.status ?? '', ...alternatives].filter(Boolean);
}

function expectedBounceTypes(entry: ManifestEntry): string[] {
  const alternatives = (entry.altExpected ?? []).flatMap((a) =>
    a.expected.map((e) => (e.hardbounce === undefined ? '' : e.hardbounce ? 'hard' : 'soft')),
  );
  return [entry.bounceType ?? '', ...alternatives].filter(Boolean);
}

function addressSet(addresses: Array<string | null>): string {
  return [...new Set(addresses.filter((a): a is string => a !== null).map((a) => a.toLowerCase()))]
    .sort()
    .join(',');
}

function ratio(hits: number, total: number): string {
  return total ? `${(hits / total).toFixed(4)}  (${hits}/${total})` : 'n/a';
}

interface Tally {
  hits: number;
  total: number;
  misses: string[];
}

function tally(): Tally {
  return { hits: 0, total: 0, misses: [] };
}

function count(t: Tally, ok: boolean, miss: () => string): void {
  t.total += 1;
  if (ok) t.hits += 1;
  else t.misses.push(miss());
}

function main(): void {
  const { values } = parseArgs({
    options: {
      corpus: { type: 'string' },
      passes: { type: 'string', default: '10' },
      misses: { type: 'boolean', default: false },
    },
  });
  if (!values.corpus) {
    console.error('usage: npm run bench:bounces -- --corpus DIR [--passes N] [--misses]');
    process.exit(2);
  }
  const corpus = resolve(values.corpus);
  const entries: ManifestEntry[] = readFileSync(join(corpus, 'manifest.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as ManifestEntry);
  const messages = entries.map((entry) => readFileSync(join(corpus, 'emails', entry.path)));

  const verdicts: BounceVerdict[] = messages.map((raw) => classifyMessage(raw));

  let truePositive = 0;
  let falsePositive = 0;
  let falseNegative = 0;
  const category = tally();
  const recipients = tally();
  const reason = tally();
  const hardSoft = tally();
  const status = tally();
  const bounceMisses: string[] = [];

  entries.forEach((entry, i) => {
    const got = verdicts[i] as BounceVerdict;
    const first = got.recipients[0];
    const expected = expectedCategory(entry);
    const isBounce = expected === 'bounce';
    const saysBounce = got.category === 'bounce';
    if (isBounce && saysBounce) truePositive += 1;
    else if (saysBounce) {
      falsePositive += 1;
      bounceMisses.push(`${entry.path}: false positive (${expected})`);
    } else if (isBounce) {
      falseNegative += 1;
      bounceMisses.push(`${entry.path}: missed bounce, got ${got.category}`);
    }
    count(category, got.category === expected, () => `${entry.path}: ${expected} != ${got.category}`);

    if (entry.recipients.length) {
      const want = addressSet(entry.recipients.map((r) => r.recipient));
      const have = addressSet(got.recipients.map((r) => r.address));
      count(recipients, want === have, () => `${entry.path}: [${want}] != [${have}]`);
    }
    const reasons = expectedReasons(entry);
    if (reasons.length) {
      count(reason, reasons.includes(first?.reason ?? ''), () => {
        return `${entry.path}: ${reasons.join('|')} != ${first?.reason} | ${first?.status} | ${first?.diagnostic?.slice(0, 160)}`;
      });
    }
    const types = expectedBounceTypes(entry);
    if (types.length && expected === 'bounce') {
      count(hardSoft, types.includes(first?.bounceType ?? ''), () => {
        return `${entry.path}: ${types.join('|')} != ${first?.bounceType} (${first?.reason} ${first?.status} ${first?.replyCode})`;
      });
    }
    const statuses = expectedStatuses(entry);
    if (statuses.length && entry.statusIsPseudo === false) {
      count(status, statuses.includes(first?.status ?? ''), () => {
        return `${entry.path}: ${statuses.join('|')} != ${first?.status} | ${first?.diagnostic?.slice(0, 120)}`;
      });
    }
  });

  const passes = Math.max(1, Number(values.passes) || 10);
  for (const raw of messages) classifyMessage(raw);
  const started = process.hrtime.bigint();
  for (let pass = 0; pass < passes; pass += 1) for (const raw of messages) classifyMessage(raw);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  const precision = truePositive / (truePositive + falsePositive || 1);
  const recall = truePositive / (truePositive + falseNegative || 1);
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  console.log(`corpus: ${corpus} (${entries.length} messages)`);
  console.log(`isBounce precision   ${precision.toFixed(4)}`);
  console.log(`isBounce recall      ${recall.toFixed(4)}`);
  console.log(`isBounce F1          ${f1.toFixed(4)}`);
  console.log(`category accuracy    ${ratio(category.hits, category.total)}`);
  console.log(`recipient sets exact ${ratio(recipients.hits, recipients.total)}`);
  console.log(`reason (1st rcpt)    ${ratio(reason.hits, reason.total)}`);
  console.log(`hard/soft            ${ratio(hardSoft.hits, hardSoft.total)}`);
  console.log(`status (not pseudo)  ${ratio(status.hits, status.total)}`);
  console.log(
    `speed                ${Math.round((messages.length * passes) / seconds)} messages/s ` +
      `(${passes} passes of ${messages.length}, one core, after a warm-up)`,
  );
  if (values.misses) {
    const sections: Array<[string, string[]]> = [
      ['isBounce', bounceMisses],
      ['category', category.misses],
      ['recipients', recipients.misses],
      ['reason', reason.misses],
      ['hard/soft', hardSoft.misses],
      ['status', status.misses],
    ];
    for (const [title, misses] of sections) {
      console.log(`\n## ${title} misses (${misses.length})`);
      for (const line of misses) console.log(line);
    }
  }
}

main();
